package storage_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/sparkweb/sparkweb/wasm/storage"
)

func TestMemory(t *testing.T) {
	ctx := context.Background()
	s := storage.NewMemory()
	for _, kv := range [][2]string{{"outbox/2", "b"}, {"outbox/1", "a"}, {"roster", "r"}} {
		if err := s.Put(ctx, kv[0], kv[1]); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := s.List(ctx, "outbox/")
	if want := []storage.Entry{{"outbox/1", "a"}, {"outbox/2", "b"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("List = %v, want %v", got, want)
	}
	_ = s.Delete(ctx, "outbox/1")
	_ = s.Delete(ctx, "missing")
	if _, ok, _ := s.Get(ctx, "outbox/1"); ok {
		t.Error("deleted key still there")
	}
	var v struct{ N int }
	if err := storage.PutJSON(ctx, s, "j", struct{ N int }{7}); err != nil {
		t.Fatal(err)
	}
	if ok, err := storage.GetJSON(ctx, s, "j", &v); !ok || err != nil || v.N != 7 {
		t.Errorf("GetJSON = %v %v %+v", ok, err, v)
	}
	_ = s.Put(ctx, "bad", "{")
	if _, err := storage.GetJSON(ctx, s, "bad", &v); err == nil {
		t.Error("GetJSON of invalid JSON did not fail")
	}
}
