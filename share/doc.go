// Package share is one device in the Kith network: a Node wires the
// device's identity, its library (share/library), its peer server and
// multi-source fetcher (share/peer), its LAN presence (share/lan) and its
// directory client into the three flows of the design:
//
//  1. RegisterVia: relayed registration through a neighbour, which forwards
//     our sealed registration to the directory and hands back our license;
//  2. Buy/Register then Fetch: directory-coupled download from the ranked
//     suppliers the directory names (origin last);
//  3. Fetch from a neighbour without a license (superdistribution), GetKey later.
//
// Serve runs the peer server, a heartbeat that announces holdings and
// policies to the directory every AnnounceInterval (and after each change),
// and mDNS announce/browse; on shutdown the node withdraws from the
// directory. The peer port also answers browsers: a Demux (share/install)
// sends TLS connections to the peer server and plain HTTP to the install
// page, which offers the packaged app from Options.InstallDir. The wire
// protocol between devices is documented in share/peer, the on-disk layout
// in share/library.
package share
