// Command kithctl is a headless Kith device: the same share.Node and
// player code the desktop app runs, driven from a shell.
//
// "kithctl serve" runs the device (peer server, LAN mDNS announce/browse,
// directory heartbeat) and a control API; every other command talks to the
// running device over that API. See usage below or `kithctl --help`.
//
// # Control API
//
// HTTP/1.1 over the unix socket DIR/kithctl.sock (mode 0600: only the
// owner of the data folder can drive the device). Requests and answers are
// JSON; errors are {"error": "..."} with a 4xx/5xx status. Long operations
// (fetch, play, publish) answer a stream of JSON lines (one Line each) ending with a
// line whose "done" is true, or whose "error" is set.
//
//	GET  /status                  Status
//	POST /signup    {"account","password"}
//	POST /signin    {"account","password","name"}     enrolls this device; the running node takes the account
//	POST /signout   {}                                 leaves the account at the directory; the node goes on, signed out
//	GET  /titles?q=               []TitleRow (the directory's catalog joined with local holdings)
//	GET  /suppliers?title=        []directory.Supplier (what the directory offers this device)
//	POST /buy       {"title","payment"}                directory.Receipt
//	POST /fetch     {"target","from":[...]}            stream of Line
//	POST /register-via {"neighbour","title","payment"} directory.Receipt
//	POST /getkey    {"target","payment"}               KeyInfo
//	POST /policy    {"title","mode","allow","deny"}
//	GET  /neighbours                                   []share.Neighbour
//	POST /neighbours/add    {"neighbour": "HOST:PORT"} share.Neighbour (share.Node.AddNeighbour)
//	POST /neighbours/remove {"neighbour": "HOST:PORT|DEVICE"}
//	GET  /offers?neighbour=                            []peer.Offer
//	POST /play      {"target","seconds"}               stream of Line
//	POST /publish   {"paths","title","price","rights","public"}
//	                                                   stream of Line (one "added" per title)
package main
