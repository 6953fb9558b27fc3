package engine

import (
	"github.com/sparkweb/sparkweb/wasm/avatar"
	"github.com/sparkweb/sparkweb/wasm/disco"
	"github.com/sparkweb/sparkweb/wasm/muc"
)

// clientFeatures lists the protocol features this client supports, as answered to disco#info
// (XEP-0030) and hashed into entity capabilities (XEP-0115). A "+notify" feature asks the server
// to send us PEP notifications for that node (XEP-0163).
func clientFeatures() []string {
	return []string{
		nsReceipts,
		nsMarkers,
		nsChatStates,
		nsCorrect,
		nsRetract,
		nsReactions,
		nsReply,
		nsIdle,
		muc.NS,
		muc.NSConference,            // direct invitations (XEP-0249)
		muc.NSBookmarks + "+notify", // bookmark changes pushed to us (XEP-0402)
		disco.NSCaps,                // entity capabilities (XEP-0115, caps.go)
		nsPing,                      // XEP-0199 (ping.go)
		nsOOB,                       // file links (XEP-0066, upload.go)

		avatar.NSMetadata + "+notify", // contacts' avatar changes pushed to us (XEP-0084, avatar.go)
	}
}
