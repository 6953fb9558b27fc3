package storage

import (
	"context"
	"errors"
	"fmt"
	"syscall/js"
)

// IndexedDB is the browser Store. static/worker.js implements sparkwebStorage (get, put,
// delete, list, each returning a Promise) over IndexedDB; this type awaits those promises from
// goroutines, never from inside a JavaScript callback.
type IndexedDB struct {
	api js.Value
}

// NewIndexedDB binds to the worker's sparkwebStorage, or fails if the worker has none.
func NewIndexedDB() (*IndexedDB, error) {
	api := js.Global().Get("sparkwebStorage")
	if api.IsUndefined() || api.IsNull() {
		return nil, errors.New("storage: the worker defines no sparkwebStorage")
	}
	return &IndexedDB{api: api}, nil
}

// Get implements Store.
func (s *IndexedDB) Get(ctx context.Context, key string) (string, bool, error) {
	v, err := await(ctx, s.api.Call("get", key))
	if err != nil {
		return "", false, fmt.Errorf("storage: get %s: %w", key, err)
	}
	if v.IsNull() || v.IsUndefined() {
		return "", false, nil
	}
	return v.String(), true, nil
}

// Put implements Store.
func (s *IndexedDB) Put(ctx context.Context, key, value string) error {
	if _, err := await(ctx, s.api.Call("put", key, value)); err != nil {
		return fmt.Errorf("storage: put %s: %w", key, err)
	}
	return nil
}

// Delete implements Store.
func (s *IndexedDB) Delete(ctx context.Context, key string) error {
	if _, err := await(ctx, s.api.Call("delete", key)); err != nil {
		return fmt.Errorf("storage: delete %s: %w", key, err)
	}
	return nil
}

// List implements Store.
func (s *IndexedDB) List(ctx context.Context, prefix string) ([]Entry, error) {
	v, err := await(ctx, s.api.Call("list", prefix))
	if err != nil {
		return nil, fmt.Errorf("storage: list %s: %w", prefix, err)
	}
	out := make([]Entry, v.Length())
	for i := range out {
		pair := v.Index(i)
		out[i] = Entry{Key: pair.Index(0).String(), Value: pair.Index(1).String()}
	}
	return out, nil
}

// await waits for a JavaScript promise. The callbacks only hand the outcome to a buffered
// channel: blocking inside them would stall the worker.
func await(ctx context.Context, p js.Value) (js.Value, error) {
	type outcome struct {
		v   js.Value
		err error
	}
	ch := make(chan outcome, 1)
	onOK := js.FuncOf(func(_ js.Value, args []js.Value) any {
		v := js.Undefined()
		if len(args) > 0 {
			v = args[0]
		}
		ch <- outcome{v: v}
		return nil
	})
	onErr := js.FuncOf(func(_ js.Value, args []js.Value) any {
		msg := "rejected"
		if len(args) > 0 {
			msg = args[0].Call("toString").String()
		}
		ch <- outcome{err: errors.New(msg)}
		return nil
	})
	defer onOK.Release()
	defer onErr.Release()
	p.Call("then", onOK, onErr)
	select {
	case o := <-ch:
		return o.v, o.err
	case <-ctx.Done():
		return js.Undefined(), ctx.Err()
	}
}
