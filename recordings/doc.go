// Package recordings writes a room's full mix to crash-safe WAV files and
// delivers them to the room owner's voicemail when the meeting ends: by a
// SIP call to the voicemail system, by email, or into an Asterisk voicemail
// spool folder. Deliveries are rows in the store, retried with back-off
// until they succeed, so a restart or a crash loses none.
package recordings
