// Package install lets Kith travel with its content: a device offers its
// own packaged app on a plain web page at its peer port, so a neighbour
// without Kith can install it from the device that shares media with them.
//
// # One port, two protocols
//
// The peer port speaks mutual TLS 1.3 (share/peer). A Demux splits its
// listener by the first byte each client sends: a TLS connection starts
// with 0x16 (the handshake record carrying the ClientHello), a browser's
// HTTP request with a method letter. 0x16 goes to the TLS side (the peer
// server, unchanged), everything else to the plain side, where a Site
// answers. The byte is read on a goroutine per connection with a deadline
// (DemuxOptions.PeekTimeout, 5 s), never in the accept loop; at most
// MaxPending connections wait for their first byte at once and further ones
// are closed, so silent connections delay nobody. Nothing of the peer
// protocol is reachable without TLS.
//
// # The install page (plain HTTP/1.1)
//
//	GET|HEAD /                          200 text/html: what Kith is, the device's name, a
//	                                    download link, the SHA-256 and install steps; when
//	                                    no package is offered, the same page says so
//	GET|HEAD /kith-linux-<arch>.tar.xz  200/206/304 the tarball (.tar.gz: the one made from
//	                                    the running program; only the one offered is served) (Content-Length, Range,
//	                                    If-Range/If-None-Match on ETag "<sha256>");
//	                                    404 when no package is offered; 503 with
//	                                    Retry-After when MaxDownloads run already
//	GET|HEAD /kith-linux-<arch>.tar.xz.sha256
//	                                    200 text/plain "<sha256 hex>  kith-linux-<arch>.tar.xz\n"
//	                                    (sha256sum -c format); 404 as above
//
// Every other path is 404 and every other method 405; request paths are
// compared whole and never joined to a file path, so there is no directory
// listing and no traversal. Headers are read within 5 s, requests within
// 10 s; a download whose reader takes nothing for StallTimeout (30 s) is
// cut off; idle connections close after 30 s.
//
// # The package
//
// Options.Dir (the node's <data>/install by default) holds the tarball that
// packaging/package-linux.sh writes: kith-linux-<arch>.tar.xz, or Kith.tar.xz
// as `make package` names it in dist/, optionally with its sha256sum file
// NAME.sha256 beside it. The package is hashed when first asked for and
// again whenever its size or mtime changes; a package that disagrees with
// its .sha256 file is not offered. Each download is served from the file
// handle that was checked, so a package replaced mid-download does not mix
// two versions.
//
// When Dir holds no package and Options.Self is set (the desktop app sets
// it), the device makes one of the program it runs: a tar.gz (stdlib gzip:
// about a second of CPU for a 40 MB program, where pure-Go xz took 30 s),
// SelfPackageName, laid out as `fyne package -os linux` lays it out —
// kith/Makefile, kith/usr/local/bin/kith, …/applications/kith.desktop,
// …/pixmaps/kith.png — kept as Dir/self/SelfPackageName with its .sha256 and a
// stamp naming the program (path, size, mtime) it was made from. It is made
// the first time the package is asked for (Info, the page, a download), in
// Serve's goroutine, on a thread at the lowest CPU priority (Linux: nice 19:
// it may be asked for while a video plays; the desktop app asks when its
// Sharing screen shows); until then Info.Preparing is true and the page
// says so.
// A stamp that does not match the running program (an upgrade) is not
// offered; the package is made again. Its bytes depend only on the program,
// icon and desktop entry, so its checksum is stable.
//
// The page travels unencrypted, so it asks the neighbour to compare the
// checksum with the one the offering device's app shows (Info.SHA256).
package install
