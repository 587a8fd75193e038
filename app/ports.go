package app

import (
	"context"
	"errors"
	"image"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/license"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

// The interfaces below are what the GUI needs from the rest of Kith. They
// are declared here, by their user, so the screens can be tested with small
// fakes and so the GUI never depends on how sharing or playback work.
// Methods taking a context may block (network, disk) and are only called
// off the UI goroutine. Methods without one are called by Serve's refresh
// goroutine (snapshots: may read a local index, must not wait on the
// network) or, for Player controls and Session's getters, on the UI
// goroutine, where they must return at once.

// Session is this device's standing with its directory.
type Session interface {
	// Directory describes the directory this device talks to.
	Directory() DirectoryInfo
	// Account is the account this device is enrolled under, "" before sign-in.
	Account() string
	// SignUp creates account and enrolls this device under it as deviceName.
	SignUp(ctx context.Context, account, password, deviceName string) error
	// SignIn enrolls this device under an existing account.
	SignIn(ctx context.Context, account, password, deviceName string) error
	// SignOut takes this device out of its account (at the directory too),
	// so it can sign in as another without restarting.
	SignOut(ctx context.Context) error
	// Devices lists the devices enrolled under this device's account, this
	// one marked This (revoked ones are left out: they do not count
	// against the directory's cap on an account's devices).
	Devices(ctx context.Context) ([]Device, error)
	// RemoveDevice revokes another device of the account at the directory:
	// it gets no new licenses and its requests are refused. Undoing it
	// means signing that device out and in again.
	RemoveDevice(ctx context.Context, id identity.ID) error
}

// Device is one device enrolled under the account (Settings → Devices).
type Device struct {
	ID    identity.ID
	Name  string    // as it was named when it signed in
	This  bool      // the device the app runs on
	Added time.Time // when it was enrolled
}

// DirectoryInfo says which directory the device uses and how it was found.
type DirectoryInfo struct {
	Name        string      // the directory's own name
	URL         string      // https://host:port
	Fingerprint identity.ID // the pinned directory identity
	Embedded    bool        // started in this process (the household directory)
	FoundOnLAN  bool        // found by mDNS on first run
}

// Catalog is the store: the directory's titles and buying them.
type Catalog interface {
	// Titles searches the catalog; page counts from 1.
	Titles(ctx context.Context, query string, page, perPage int) ([]directory.Title, int, error)
	// Buy registers (and pays for, when pay is non-nil) t for this
	// device's account, stores the license and starts fetching the title.
	Buy(ctx context.Context, t directory.Title, pay *license.Payment) (*directory.Receipt, error)
}

// ItemState is where a library title stands.
type ItemState int

// Library item states.
const (
	StateOwned       ItemState = iota // licensed and complete: playable
	StateLocked                       // ciphertext held (maybe partly) without a key
	StateDownloading                  // licensed, chunks arriving
	StatePaused                       // licensed, partial, nothing arriving
)

func (s ItemState) String() string {
	switch s {
	case StateOwned:
		return "owned"
	case StateLocked:
		return "locked — get key"
	case StateDownloading:
		return "downloading"
	case StatePaused:
		return "paused"
	}
	return "unknown"
}

// Item is one title this device holds.
type Item struct {
	Content   sealed.ContentID
	TitleID   string
	Name      string
	Artist    string
	MediaType string
	Price     int64 // cents, for "get key" on a locked title
	Currency  string
	Size      int64         // sealed file size
	Duration  time.Duration // playing time; 0 when unknown
	Width     int           // a video's size in pixels; 0 when unknown or not video
	Height    int
	Have      int64 // bytes verified and stored
	State     ItemState
	Rate      float64 // bytes/s arriving now
	Sources   int     // devices supplying now
	Policy    directory.Policy
	Added     time.Time
}

// Progress is the fraction of the title held, in [0,1].
func (it Item) Progress() float64 {
	if it.Size <= 0 {
		return 0
	}
	return min(1, float64(it.Have)/float64(it.Size))
}

// Library is what this device holds and downloads.
type Library interface {
	// Items lists every title held, complete or not (may be 10,000).
	Items(ctx context.Context) ([]Item, error)
	// GetKey registers a locked title (paying when pay is non-nil) so it
	// becomes playable.
	GetKey(ctx context.Context, content sealed.ContentID, pay *license.Payment) (*directory.Receipt, error)
	// Suppliers is the directory's ranked supplier list for content.
	Suppliers(ctx context.Context, content sealed.ContentID) ([]directory.Supplier, error)
	// Fetch starts (or steers) the download of content; from == "" lets
	// the fetcher pick and use every source.
	Fetch(ctx context.Context, content sealed.ContentID, from identity.ID) error
	// Swarm is a snapshot of the devices exchanging content with us now.
	Swarm(content sealed.ContentID) Swarm
	// Changes registers fn to be called (on any goroutine) whenever
	// Items or a Swarm may have changed; stop unregisters it.
	Changes(fn func()) (stop func())
}

// Swarm is the set of transfers of one title involving this device.
type Swarm struct {
	Content sealed.ContentID
	Title   string
	Links   []Link
}

// Link is one transfer between this device and a peer.
type Link struct {
	Peer     identity.ID
	Name     string  // device name, or "origin"
	Incoming bool    // the peer supplies us; false: we supply the peer
	Origin   bool    // the directory's origin store
	Rate     float64 // bytes/s now
	Bytes    int64   // bytes moved so far
}

// Neighbour is a device of the same directory seen on the LAN or added
// by hand.
type Neighbour struct {
	ID      identity.ID
	Name    string
	Account string
	Addr    string
	Seen    time.Time
	ByHand  bool // added by hand (Neighbours.Add); Remove forgets it
}

// Offer is a title a neighbour offers this device (already filtered by the
// neighbour owner's restrictions).
type Offer struct {
	Title    directory.Title
	Complete bool
}

// FetchMode says how to get a title from a neighbour.
type FetchMode int

// Ways to fetch from a neighbour.
const (
	// FetchRelay registers through the neighbour (which relays the sealed
	// registration to the directory and credits itself) and downloads.
	FetchRelay FetchMode = iota
	// FetchCiphertext copies the ciphertext without a key; the key comes
	// later with "get key" in the library.
	FetchCiphertext
)

// ErrRestricted is returned (wrapped) by Neighbours.Offer when the
// neighbour's owner does not share with this device.
var ErrRestricted = errors.New("this device's owner does not share with you")

// Neighbours is the LAN view.
type Neighbours interface {
	// Neighbours lists the devices seen on the LAN recently.
	Neighbours() []Neighbour
	// Offer asks a neighbour what it offers this device.
	Offer(ctx context.Context, id identity.ID) ([]Offer, error)
	// FetchFrom gets a title from a neighbour (pay only for FetchRelay of a
	// priced title).
	FetchFrom(ctx context.Context, id identity.ID, o Offer, mode FetchMode, pay *license.Payment) error
	// Discovery is "" while LAN discovery works, else why it does not
	// (no multicast-capable network, say); it is retried on its own.
	Discovery() string
	// Add adds the device at addr (HOST:PORT, its peer port) by hand, for
	// a network whose router drops the multicast LAN discovery needs: the
	// device there must prove its key and be enrolled with this device's
	// directory, or nothing is added. It is kept across restarts.
	Add(ctx context.Context, addr string) (Neighbour, error)
	// Remove forgets a neighbour added by hand.
	Remove(ctx context.Context, id identity.ID) error
	// Address is this device's address for another device to add it by
	// hand (HOST:PORT), "" when it has none yet.
	Address() string
	// Changes registers fn to be called when the neighbour list or
	// Discovery changes.
	Changes(fn func()) (stop func())
}

// Upload is one title another device downloaded (or is downloading) from us.
type Upload struct {
	Peer     identity.ID
	PeerName string
	Content  sealed.ContentID
	Title    string
	Bytes    int64
	Active   bool
	Rate     float64
	Last     time.Time
}

// Sharing is this device's side as a supplier.
type Sharing interface {
	// Enabled reports whether the peer server offers anything.
	Enabled() bool
	// SetEnabled turns serving on or off.
	SetEnabled(ctx context.Context, on bool) error
	// DefaultPolicy is the policy of titles without their own.
	DefaultPolicy() directory.Policy
	// SetDefaultPolicy changes it.
	SetDefaultPolicy(ctx context.Context, p directory.Policy) error
	// SetPolicy sets the policy of one title.
	SetPolicy(ctx context.Context, content sealed.ContentID, p directory.Policy) error
	// Uploads lists who downloaded what from us, newest first.
	Uploads() []Upload
	// Supplied is the total number of bytes served.
	Supplied() int64
	// Install is the packaged app this device offers to neighbours without
	// Kith (may read and hash the package on disk the first time).
	Install() InstallOffer
	// Changes registers fn to be called when uploads or settings change.
	Changes(fn func()) (stop func())
}

// InstallOffer is the packaged app this device offers on a plain web page
// at its peer port, so a neighbour without Kith can install it from here.
type InstallOffer struct {
	URL       string // the page a neighbour opens, "http://192.168.1.20:7143/"; "" while offline
	Available bool   // a package is offered
	SHA256    string // the package's checksum (hex), for the neighbour to compare
	Size      int64  // bytes
	Problem   string // why no package is offered, when known
	Preparing bool   // the package is being made from the running program
	Dir       string // the folder the package goes in
}

// PlayerState is everything the now-playing bar shows.
type PlayerState struct {
	Content   sealed.ContentID
	Title     string // "" = nothing loaded
	Artist    string
	MediaType string
	Playing   bool
	Buffering bool // waiting for chunks still arriving
	NoOutput  bool // no audio device: shown, not silently stuck
	Position  time.Duration
	Duration  time.Duration
	Volume    float64     // 0..1
	Image     image.Image // the picture, for image titles
	// Video reports that the title has a picture, shown in the video view
	// (Backend.Video sends its frames there).
	Video   bool
	Err     string // the last playback error, as worded by the player
	Repeat  Repeat // what happens at the end of a title and of the queue
	Shuffle bool   // the titles after the current one play in a random order
	// Resume is where the current title stopped last time, offered until
	// playback passes it (0: nothing to offer).
	Resume time.Duration
	// Queue is what plays, in order; Index is the current title in it.
	Queue []QueueItem
	Index int
}

// QueueItem is one place in the player's queue.
type QueueItem struct {
	// Key names the place for RemoveFromQueue, MoveInQueue and PlayQueued:
	// it stays with the item as the queue changes around it.
	Key     uint64
	Content sealed.ContentID
}

// Repeat is the player's repeat mode.
type Repeat int

// Repeat modes.
const (
	RepeatOff Repeat = iota // stop at the end of the queue
	RepeatOne               // play the current title again
	RepeatAll               // start the queue again
)

// Player plays library titles.
type Player interface {
	// Play opens queue[start] and plays it, queue[start+1:] after it.
	Play(ctx context.Context, queue []sealed.ContentID, start int) error
	// TogglePause flips between playing and paused.
	TogglePause()
	// Next and Previous move in the queue.
	Next()
	Previous()
	// Seek jumps to a position in the current title.
	Seek(pos time.Duration)
	// SetVolume sets the volume in [0,1].
	SetVolume(v float64)
	// Enqueue adds titles at the end of the queue (and starts playing
	// when nothing plays).
	Enqueue(ctx context.Context, titles []sealed.ContentID) error
	// PlayNext puts titles right after the current one, which plays on
	// (and starts playing when nothing plays).
	PlayNext(ctx context.Context, titles []sealed.ContentID) error
	// RemoveFromQueue takes an item out of the queue; removing the current
	// title plays the one that took its place.
	RemoveFromQueue(key uint64)
	// MoveInQueue moves an item to index to; the current title plays on.
	MoveInQueue(key uint64, to int)
	// PlayQueued plays a queue item now.
	PlayQueued(key uint64)
	// SetRepeat sets the repeat mode.
	SetRepeat(r Repeat)
	// SetShuffle turns shuffling on or off at once: on puts the titles
	// after the current one in a random order (and Play shuffles all but
	// the first); off puts back the order they were given in.
	SetShuffle(on bool)
	// State is the current state.
	State() PlayerState
	// Changes registers fn to be called when State changes.
	Changes(fn func()) (stop func())
}

// Backend bundles the interfaces a window is built over.
type Backend struct {
	Session    Session
	Pairing    Pairing
	Catalog    Catalog
	Library    Library
	Neighbours Neighbours
	Sharing    Sharing
	Player     Player
	// Media adds this device's own files and lists tracks with tags;
	// nil hides adding (no directory to publish to).
	Media Media
	// Video sends the picture of videos to the video view; nil: videos
	// play their sound only.
	Video VideoPlayer
}
