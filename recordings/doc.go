// Package recordings will write a room's full mix to crash-safe WAV files
// and deliver them to the organizer's voicemail. The mixer already exposes
// the tap it will listen on (mixer.SetTap); the package itself arrives with
// the recordings issue (#6).
package recordings
