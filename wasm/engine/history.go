package engine

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sort"

	"mellium.im/xmpp"
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
	from     string // the room whose archive answers, "" for our account's
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
	with, err := jidArg(args.With)
	if err != nil {
		return nil, err
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
	// Receipts, markers and reactions are archived too but are not messages of their own, so
	// one archive page may hold fewer messages than asked for, even none: page on until the
	// limit is met, and return the newest limit (the tab pages on from the oldest returned).
	var msgs []protocol.Message
	before, complete := args.Before, false
	for round := 0; round < 10 && len(msgs) < args.Limit && !complete; round++ {
		q := mam.Query{With: with.Bare().String(), Before: before, Latest: before == "", Max: args.Limit}
		private := e.isPrivateConversation(with) // with an occupant of a room (mucmsg.go)
		if private {
			q.With = with.String()
		}
		if room := e.roomArchive(q.With); room != "" {
			q.To, q.With = room, "" // a room's history is in the room's archive (muc.go)
		}
		page, fin, err := e.queryArchive(ctx, sess, q)
		if err != nil {
			return nil, err
		}
		if private {
			// Prosody 0.12 matches a full JID as its bare JID: every occupant's would come.
			page = slices.DeleteFunc(page, func(m protocol.Message) bool { return m.With != q.With })
		}
		msgs = append(page, msgs...)
		complete = fin.Complete || fin.First == ""
		before = fin.First
	}
	if len(msgs) > args.Limit {
		msgs, complete = msgs[len(msgs)-args.Limit:], false
	}
	return protocol.History{Messages: msgs, Complete: complete}, nil
}

// queryArchive runs one MAM query and returns its messages, oldest first.
func (e *Engine) queryArchive(ctx context.Context, sess *xmpp.Session, q mam.Query) ([]protocol.Message, mam.Fin, error) {
	q.ID = randomID()
	col := &archiveQuery{from: q.To}
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

// catchUp files what the archive holds after the archive position, so messages that arrived
// while we were away show up, once. Without a position it loads the latest page, so a fresh
// engine starts with recent conversations.
//
// The position only moves past what was really filed: page by page here, and by live messages
// only once no catch-up is pending (fileLocked). A catch-up cut short by a dropped stream leaves
// it where the last page ended, and the next session (fresh or resumed) goes on from there.
func (e *Engine) catchUp(ctx context.Context, sess *xmpp.Session) error {
	e.mu.Lock()
	after := e.st.lastArchived
	e.mu.Unlock()
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
		if fin.Last != "" {
			after = fin.Last
			e.st.lastArchived = after
			e.persistLocked(keyArchived, after)
		}
		done := q.After == "" || fin.Complete || fin.Last == ""
		if done {
			e.catchUpPending = false
		}
		e.mu.Unlock()
		if done {
			return nil
		}
	}
	return nil
}
