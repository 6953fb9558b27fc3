package engine

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
	}
}
