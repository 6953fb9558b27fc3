package engine

import (
	"context"
	"encoding/json"
	"errors"
	"sort"

	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"github.com/sparkweb/sparkweb/wasm/mam"
	"github.com/sparkweb/sparkweb/wasm/protocol"
)

const (
	defaultHistoryPage = 50
	maxHistoryPage     = 200
	catchUpPage        = 100
)

// archiveQuery collects the results of one MAM query; the stanza handler fills it.
type archiveQuery struct {
	messages []protocol.Message
}

func (e *Engine) opHistory(ctx context.Context, raw json.RawMessage) (any, error) {
	var args struct {
		With   string `json:"with"`
		Before string `json:"before"`
		Limit  int    `json:"limit"`
	}
	if err := protocol.DecodeArgs(raw, &args); err != nil {
		return nil, err
	}
	with, err := jid.Parse(args.With)
	if err != nil {
		return nil, protocol.Errorf(protocol.CodeBadRequest, "invalid JID %q", args.With)
	}
	switch {
	case args.Limit == 0:
		args.Limit = defaultHistoryPage
	case args.Limit < 0 || args.Limit > maxHistoryPage:
		return nil, protocol.Errorf(protocol.CodeBadRequest, "limit must be between 1 and %d", maxHistoryPage)
	}
	sess, err := e.online()
	if err != nil {
		return nil, err
	}
	msgs, fin, err := e.queryArchive(ctx, sess, mam.Query{With: with.Bare().String(), Before: args.Before, Latest: args.Before == "", Max: args.Limit})
	if err != nil {
		return nil, err
	}
	return protocol.History{Messages: msgs, Complete: fin.Complete}, nil
}

// queryArchive runs one MAM query and returns its messages, oldest first.
func (e *Engine) queryArchive(ctx context.Context, sess *xmpp.Session, q mam.Query) ([]protocol.Message, mam.Fin, error) {
	q.ID = randomID()
	col := &archiveQuery{}
	e.mu.Lock()
	e.queries[q.ID] = col
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		delete(e.queries, q.ID)
		e.mu.Unlock()
	}()
	var fin mam.Fin
	err := sess.UnmarshalIQ(ctx, q.IQ(randomID()), &fin)
	var se stanza.Error
	switch {
	case errors.As(err, &se):
		return nil, fin, stanzaError(&se, "archive query")
	case err != nil:
		return nil, fin, protocol.Errorf(protocol.CodeNotConnected, "archive query: %v", err)
	}
	// The results were all handled before the IQ result that ends the query.
	e.mu.Lock()
	msgs := col.messages
	e.mu.Unlock()
	sort.SliceStable(msgs, func(i, j int) bool { return msgs[i].Timestamp < msgs[j].Timestamp })
	return msgs, fin, nil
}

// catchUp files what the archive holds after position (the newest archive id known before this
// session began), so messages that arrived while we were away show up, once. Without a position
// it loads the latest page, so a fresh engine starts with recent conversations.
func (e *Engine) catchUp(ctx context.Context, sess *xmpp.Session, position string) error {
	after := position
	defer func() {
		// Live messages of this session may have moved the position past the catch-up already;
		// only move it if none did.
		e.mu.Lock()
		if e.st.lastArchived == position && after != position && after != "" {
			e.st.lastArchived = after
			e.persistLocked(keyArchived, after)
		}
		e.mu.Unlock()
	}()
	for page := 0; page < 50; page++ { // 5,000 messages at most: beyond that, history paging
		q := mam.Query{After: after, Latest: after == "", Max: catchUpPage}
		msgs, fin, err := e.queryArchive(ctx, sess, q)
		var perr *protocol.Error
		if after != "" && errors.As(err, &perr) && perr.Code == string(stanza.ItemNotFound) {
			after = "" // our position expired from the archive: start again from the latest page
			continue
		}
		if err != nil {
			return err
		}
		e.mu.Lock()
		for _, m := range msgs {
			e.fileLocked(m, false)
		}
		e.mu.Unlock()
		if fin.Last != "" {
			after = fin.Last
		}
		if q.After == "" || fin.Complete || fin.Last == "" {
			return nil
		}
	}
	return nil
}
