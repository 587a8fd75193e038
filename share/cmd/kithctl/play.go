package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"syscall"
	"time"

	"github.com/kith-media/kith/player"
	"github.com/kith-media/kith/share/playback"
)

// umask sets the process umask and returns the old one.
func umask(m int) int { return syscall.Umask(m) }

// getPlayer creates the player (and opens the audio output) on first use,
// so devices that never play never touch the sound system.
func (d *daemon) getPlayer() (*player.Player, error) {
	d.playOnce.Do(func() {
		p, err := player.New(player.Options{Source: playback.Source{Node: d.current()}, Positions: playback.Positions{Node: d.current()}, Logger: d.log})
		if err != nil {
			d.playErr = err
			return
		}
		d.player = p
		go func() {
			if err := p.Serve(context.Background()); err != nil {
				d.log.Warn("player stopped", "err", err)
			}
		}()
	})
	return d.player, d.playErr
}

// play plays the target for r.Seconds (0: to its end), streaming states
// and positions. It needs a license already held: playing never buys.
func (d *daemon) play(ctx context.Context, r Request, send func(Line)) error {
	t, err := d.resolve(ctx, r.Target)
	if err != nil {
		return err
	}
	lib := d.current().Library()
	if _, err := lib.License(ctx, t.ContentID); err != nil {
		return &apiError{http.StatusForbidden, fmt.Sprintf("cannot play %q: this device holds no license (key) for it — "+
			"the ciphertext alone cannot be played; get one with: kithctl getkey %s", t.Name, t.ID)}
	}
	if _, err := lib.Manifest(ctx, t.ContentID); err != nil {
		return &apiError{http.StatusConflict, fmt.Sprintf("cannot play %q: its content is not in the library (fetch it first)", t.Name)}
	}
	d.playMu.Lock()
	defer d.playMu.Unlock()
	p, err := d.getPlayer()
	if err != nil {
		return err
	}
	events, unsub := p.Subscribe()
	defer unsub()
	p.Play(t.ContentID.String())
	defer p.Stop()
	// A video ends with a line of its presentation counts.
	sawVideo := false
	videoLine := func() {
		if !sawVideo {
			return
		}
		time.Sleep(100 * time.Millisecond) // Status follows Serve's tick
		if v := p.Status().Video; v != nil {
			send(Line{Title: t.Name, Video: v})
		}
	}
	var stopAt <-chan time.Time
	started := false
	timeout := time.After(30 * time.Second) // until playback starts
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timeout:
			return errors.New("playback did not start within 30 s")
		case <-stopAt:
			p.Stop()
			send(Line{State: "stopped", Title: t.Name})
			videoLine()
			return nil
		case e := <-events:
			switch e.Kind {
			case player.EventState:
				l := Line{State: e.State.String(), Title: t.Name}
				if e.Err != nil {
					l.Error = e.Err.Error()
				}
				send(l)
				switch e.State {
				case player.StatePlaying:
					if !started {
						started, timeout = true, nil
						if r.Seconds > 0 {
							stopAt = time.After(time.Duration(r.Seconds * float64(time.Second)))
						}
					}
				case player.StateNoOutput, player.StateError:
					return fmt.Errorf("playing %q: %v", t.Name, e.Err)
				case player.StateStopped:
					if started {
						videoLine()
						return nil
					}
				}
			case player.EventVideo:
				sawVideo = true
			case player.EventPosition:
				send(Line{Title: t.Name, Position: e.Position, Duration: e.Duration})
			case player.EventError:
				return fmt.Errorf("playing %q: %v", t.Name, e.Err)
			}
		}
	}
}
