// Package scheduler will run brygga's timed work on gocron v2: the
// 60-minute limit and its warnings, meeting windows from calendar invites,
// delivery retries and retention. It is empty until the meeting-limit issue
// (#4) lands; the folder exists because the design card fixes the layout.
package scheduler
