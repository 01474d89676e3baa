package prompts

// Prompt names. They are file names without extension, the same as Asterisk's
// sound files wherever Asterisk has one with the same meaning, so that an
// operator can point prompts_dir at an Asterisk sound pack. Names marked "new"
// have no Asterisk counterpart and follow the same style. texts.tsv holds the
// words of each one in en, nb and sv.
//
// Prompts whose text starts or ends mid-sentence are pieces: the comment shows
// what is spoken around them.
const (
	// Before joining.
	Welcome       = "welcome"               // "Welcome." (Asterisk extra sounds)
	WelcomeConf   = "conf-welcome"          // new: "Welcome to the conference."
	WelcomeOf     = "conf-welcome-of"       // new: "Welcome to the conference of" + owner's name
	GetPin        = "conf-getpin"           // "Please enter the conference PIN, followed by the hash key."
	InvalidPin    = "conf-invalidpin"       // "That PIN is not valid for this conference."
	PinBad        = "confbridge-pin-bad"    // "You have entered too many invalid PINs." (then Goodbye)
	RecordName    = "vm-rec-name"           // "After the tone, say your name, then press hash." (then Beep)
	LobbyWait     = "conf-lobbywait"        // new: "Please wait. The host will let you in shortly."
	WaitForHost   = "conf-waitforleader"    // "The conference will begin when the host arrives."
	ConfBegin     = "confbridge-conf-begin" // "The conference will now begin." (the host has arrived)
	PlaceIntoConf = "conf-placeintoconf"    // "You will now be placed into the conference."
	OnlyPerson    = "conf-onlyperson"       // "You are currently the only person in this conference."

	// Counting (*3): ThereAre + Number(n) + Participants, for hosts followed by
	// And + Number(m) + InLobby. OnlyOne and OtherInParty count the others.
	OnlyOne      = "conf-onlyone"            // "There is currently one other participant in the conference."
	ThereAre     = "conf-thereare"           // "There are currently" …
	Participants = "confbridge-participants" // … "participants in the conference."
	OtherInParty = "conf-otherinparty"       // … "other participants in the conference."
	InLobby      = "conf-inlobby"            // new: … "waiting in the lobby."
	And          = "vm-and"                  // "and"

	// Said to the room or to hosts after a recorded name. UnknownCaller takes
	// the name's place for someone who recorded none and has no caller ID.
	UnknownCaller = "conf-unknown-caller" // new: "A caller" … ("has joined the conference.")
	HasJoin       = "conf-hasjoin"        // <name> "has joined the conference."
	HasLeft       = "conf-hasleft"        // <name> "has left the conference."
	LobbyHasJoin  = "conf-lobbyhasjoin"   // new: <name> "is waiting in the lobby."
	HasRaisedHand = "conf-hasraisedhand"  // new: <name> "has raised their hand."

	// Keypad answers.
	LobbyEmpty       = "conf-lobbyempty"        // new: "Nobody is waiting in the lobby."
	LobbyAdmitted    = "conf-lobbyadmitted"     // new: "Everyone in the lobby has been let in."
	Locked           = "conf-locked"            // "This conference is locked." (refused at the door)
	LockedNow        = "conf-lockednow"         // "The conference is now locked."
	UnlockedNow      = "conf-unlockednow"       // "The conference is now unlocked."
	Muted            = "conf-muted"             // "You are now muted."
	Unmuted          = "conf-unmuted"           // "You are now unmuted."
	LectureMuted     = "conf-lecture-muted"     // new: "Only the host can unmute you. Press star 5 to ask for the floor."
	LectureOn        = "conf-lecture-on"        // new: "Lecture mode is on. Press star 5 to ask for the floor."
	LectureOff       = "conf-lecture-off"       // new: "Lecture mode is off."
	HandRaised       = "conf-handraised"        // new: "Your hand is raised."
	HandLowered      = "conf-handlowered"       // new: "Your hand is lowered."
	FloorGiven       = "conf-floorgiven"        // new: "You have the floor, and you are now unmuted."
	NoHands          = "conf-nohands"           // new: "Nobody has raised their hand."
	NowRecording     = "conf-now-recording"     // "This conference is now being recorded."
	RecordingStopped = "conf-recording-stopped" // new: "Recording has stopped."
	RecordingRefused = "conf-recording-refused" // new: "This conference cannot be recorded." (sensitive room)
	RecordingFailed  = "conf-recording-failed"  // new: "The recording has stopped because it could not be saved."
	NotOpen          = "conf-not-open"          // new: "This meeting is not open now. …" (a scheduled meeting's PIN outside its window)
	EndConfirm       = "conf-endconfirm"        // new: "Press star 0 again to end the meeting for everyone."
	InvalidOption    = "conf-errormenu"         // "That option is not valid."
	RollCall         = "conf-rollcall"          // new: "In the conference are:" + names
	RollCallComplete = "conf-roll-callcomplete" // "That is everyone."

	// *1 menus. Participants hear Help + HelpHand; hosts hear Help + HelpHost
	// (*5 means something else for hosts, so the common part leaves it out).
	Help     = "conf-help"      // new: "Star 2, who is here. Star 3, how many are here. Star 6, mute or unmute."
	HelpHand = "conf-help-hand" // new: "Star 5, raise or lower your hand."
	HelpHost = "conf-help-host" // new: "Star 4, lecture mode. Star 5, give the floor … Star 0 twice, end the meeting."

	// Refusals and endings. A warning at n minutes is EndsIn + Number(n) +
	// Minutes, except at one: that needs the singular, and nb "ett minutt" and
	// sv "en minut" are not Number's bare "en" and "ett", so it is EndsIn1.
	SecureRequired = "conf-secure-required" // new: "This conference requires a secure connection."
	PinLockedOut   = "conf-pin-lockedout"   // new: "Too many wrong PINs have been entered. Please try again later."
	NoSuchConf     = "conf-invalid"         // "That is not a valid conference number."
	Full           = "conf-full"            // "That conference is full."
	Kicked         = "conf-kicked"          // "You have been removed from the conference."
	HostHasLeft    = "conf-leaderhasleft"   // "The host has left the conference."
	EndsIn5        = "conf-endsin5"         // new: "This conference will end in five minutes."
	EndsIn1        = "conf-endsin1"         // new: "This conference will end in one minute."
	EndsIn         = "conf-endsin"          // new: "This conference will end in" …
	Minutes        = "minutes"              // … "minutes." (Asterisk core sounds)
	ConfEnd        = "confbridge-conf-end"  // "The conference has ended." (then Goodbye)
	Goodbye        = "goodbye"              // "Goodbye."

	// A recording too long for one voicemail message goes as several, each
	// opening with VMPart + Number(n) + VMOf + Number(m).
	VMPart = "vm-part" // new: "Part" …
	VMOf   = "vm-of"   // new: … "of" …

	// Number words, for Digits and Number.
	Digit0        = "digits/0"
	Digit1        = "digits/1"
	Digit2        = "digits/2"
	Digit3        = "digits/3"
	Digit4        = "digits/4"
	Digit5        = "digits/5"
	Digit6        = "digits/6"
	Digit7        = "digits/7"
	Digit8        = "digits/8"
	Digit9        = "digits/9"
	Digit10       = "digits/10"
	Digit11       = "digits/11"
	Digit12       = "digits/12"
	Digit13       = "digits/13"
	Digit14       = "digits/14"
	Digit15       = "digits/15"
	Digit16       = "digits/16"
	Digit17       = "digits/17"
	Digit18       = "digits/18"
	Digit19       = "digits/19"
	Digit20       = "digits/20"
	Digit30       = "digits/30"
	Digit40       = "digits/40"
	Digit50       = "digits/50"
	Digit60       = "digits/60"
	Digit70       = "digits/70"
	Digit80       = "digits/80"
	Digit90       = "digits/90"
	DigitHundred  = "digits/hundred"
	DigitThousand = "digits/thousand"
	DigitStar     = "digits/star"  // "star"
	DigitPound    = "digits/pound" // "hash" (Asterisk's name; Europeans say hash)
	LetterPlus    = "letters/plus" // "plus", for caller IDs in E.164
)

// catalogue is every prompt brygga ships, in texts.tsv order.
var catalogue = []string{
	Welcome, WelcomeConf, WelcomeOf, GetPin, InvalidPin, PinBad, RecordName, LobbyWait,
	WaitForHost, ConfBegin, PlaceIntoConf, OnlyPerson, OnlyOne, ThereAre, Participants,
	OtherInParty, InLobby, And, UnknownCaller, HasJoin, HasLeft, LobbyHasJoin, LobbyEmpty,
	LobbyAdmitted, Locked, LockedNow, UnlockedNow, Muted, Unmuted, LectureMuted, LectureOn,
	LectureOff, HandRaised, HandLowered, HasRaisedHand, FloorGiven, NoHands, NowRecording,
	RecordingStopped, RecordingRefused, RecordingFailed, SecureRequired, PinLockedOut, NotOpen, NoSuchConf, Full,
	InvalidOption, Kicked, HostHasLeft, EndsIn5, EndsIn1, EndsIn, Minutes, ConfEnd, EndConfirm,
	RollCall, RollCallComplete, Help, HelpHand, HelpHost, Goodbye, VMPart, VMOf,
	Digit0, Digit1, Digit2, Digit3, Digit4, Digit5, Digit6, Digit7, Digit8, Digit9,
	Digit10, Digit11, Digit12, Digit13, Digit14, Digit15, Digit16, Digit17, Digit18, Digit19,
	Digit20, Digit30, Digit40, Digit50, Digit60, Digit70, Digit80, Digit90,
	DigitHundred, DigitThousand, DigitStar, DigitPound, LetterPlus,
}

// Names returns every prompt name of the built-in catalogue.
func Names() []string { return append([]string(nil), catalogue...) }

// Languages returns the languages of the built-in set.
func Languages() []string { return []string{"en", "nb", "sv"} }

// digitNames maps 0..19 and the tens to their prompt names.
var digitNames = map[int]string{
	0: Digit0, 1: Digit1, 2: Digit2, 3: Digit3, 4: Digit4, 5: Digit5, 6: Digit6, 7: Digit7,
	8: Digit8, 9: Digit9, 10: Digit10, 11: Digit11, 12: Digit12, 13: Digit13, 14: Digit14,
	15: Digit15, 16: Digit16, 17: Digit17, 18: Digit18, 19: Digit19, 20: Digit20, 30: Digit30,
	40: Digit40, 50: Digit50, 60: Digit60, 70: Digit70, 80: Digit80, 90: Digit90,
}
