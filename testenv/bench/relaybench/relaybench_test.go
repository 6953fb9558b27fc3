package main

import (
	"os"
	"reflect"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 100; i >= 1; i-- { // unsorted on purpose
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	tests := []struct {
		p    float64
		want time.Duration
	}{{0, time.Millisecond}, {50, 50 * time.Millisecond}, {99, 99 * time.Millisecond}, {100, 100 * time.Millisecond}}
	for _, tt := range tests {
		if got := percentile(d, tt.p); got != tt.want {
			t.Errorf("p%v = %v, want %v", tt.p, got, tt.want)
		}
	}
	if d[0] != 100*time.Millisecond {
		t.Error("percentile sorted its input in place")
	}
	if got := percentile(nil, 50); got != 0 {
		t.Errorf("p50 of nothing = %v", got)
	}
}

func TestIntList(t *testing.T) {
	tests := []struct {
		in      string
		want    intList
		wantErr bool
	}{
		{"1000,10000", intList{1000, 10000}, false},
		{" 5 , 7,", intList{5, 7}, false},
		{"10,x", nil, true},
		{"0", nil, true},
		{"-3", nil, true},
	}
	for _, tt := range tests {
		var l intList
		err := l.Set(tt.in)
		if (err != nil) != tt.wantErr || (!tt.wantErr && !reflect.DeepEqual(l, tt.want)) {
			t.Errorf("Set(%q) = %v, %v; want %v, error %v", tt.in, l, err, tt.want, tt.wantErr)
		}
	}
}

func TestHostOf(t *testing.T) {
	for in, want := range map[string]string{
		"ws://127.0.0.1:5280/xmpp-websocket": "127.0.0.1:5280",
		"ws://localhost:1":                   "localhost:1",
	} {
		if got := hostOf(in); got != want {
			t.Errorf("hostOf(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCPUTimeAndRSSOfThisProcess(t *testing.T) {
	pid := os.Getpid()
	busy := time.Now()
	for time.Since(busy) < 50*time.Millisecond {
	}
	if cpuTime(pid) <= 0 {
		t.Error("no CPU time read for this process")
	}
	if rssKiB(pid) <= 0 {
		t.Error("no RSS read for this process")
	}
	if openFileLimit(pid) <= 0 {
		t.Error("no open-file limit read for this process")
	}
	if cpuTime(-1) != 0 || rssKiB(-1) != 0 {
		t.Error("a missing process must read as zero")
	}
}
