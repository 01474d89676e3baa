package calendar

import "regexp"

// Organizers switch options on by writing a marker in the subject or the
// body of the invite, in whichever of the three languages they write:
// Outlook has no field brygga could read instead. Brackets keep ordinary
// words ("the record shows…") from switching anything on.
var (
	recordMarker    = regexp.MustCompile(`(?i)\[\s*(record|opptak|inspelning)\s*\]`)
	sensitiveMarker = regexp.MustCompile(`(?i)\[\s*(sensitive|sensitiv)\s*\]`)
)

// markers reads the options from the summary and the description.
func markers(summary, description string) (record, sensitive bool) {
	for _, s := range []string{summary, description} {
		record = record || recordMarker.MatchString(s)
		sensitive = sensitive || sensitiveMarker.MatchString(s)
	}
	return record, sensitive
}
