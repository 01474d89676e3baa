package config

import (
	"errors"
	"os"
	"testing"
)

// FuzzParseYAML feeds arbitrary bytes as the config file. Parse must never
// panic, must refuse with an *Error that names a key, and whatever it
// accepts must be a config the rest of brygga can trust: every directory
// room valid and found, and the dump reading back to the same config.
func FuzzParseYAML(f *testing.F) {
	full, err := os.ReadFile("testdata/full.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(full)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parseWith(string(data), nil)
		if len(data) == 0 {
			// parseWith reads no file for "": nothing more to learn.
			return
		}
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) || ce.Key == "" || ce.Msg == "" {
				t.Fatalf("error without a key: %#v", err)
			}
			return
		}
		if (c.OpenRooms == "") != (c.OpenRoomsRE == nil) {
			t.Fatalf("OpenRooms %q but OpenRoomsRE %v", c.OpenRooms, c.OpenRoomsRE)
		}
		for i, r := range c.Directory {
			if err := r.Validate(); err != nil {
				t.Fatalf("directory[%d] accepted but invalid: %v", i, err)
			}
			got, ok := c.Room(r.Extension)
			if !ok || got.Extension != r.Extension || got.PIN != r.PIN {
				t.Fatalf("Room(%q) = %+v, %v", r.Extension, got, ok)
			}
		}
		dump := c.dump(false)
		c2, err := parseWith(dump, nil)
		if err != nil {
			t.Fatalf("dump does not read back: %v\n%s", err, dump)
		}
		if again := c2.dump(false); again != dump {
			t.Fatalf("dump changed on reading back:\n%s\nvs\n%s", dump, again)
		}
		_ = c.Redacted()
	})
}
