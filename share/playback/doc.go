// Package playback connects a share.Node to the player: titles open through
// the node (the license is opened in memory, chunks still arriving are
// waited for, and the chunk the reader is at is what the download fetches
// first: share.Title), and playback positions are kept in the node's library.
//
// The player's title IDs are content IDs (lower-case hex): one name for a
// title across the library, the fetcher and the player. The desktop app
// (app/wire) and the headless device (share/cmd/kithctl) both use it, so
// they play through exactly the same path.
package playback
