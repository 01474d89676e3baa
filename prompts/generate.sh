#!/usr/bin/env bash
# Regenerates prompts/sounds/<lang>/<name>.wav from prompts/texts.tsv.
#
# Needs espeak-ng and sox (Debian: apt-get install espeak-ng sox).
# Output: 8 kHz, 16-bit, mono PCM WAV, leading/trailing silence trimmed,
# speech level brought to about -16 dBFS RMS with peaks held at -1 dBFS.
# The result is reproducible: sox runs without dither (-D).
#
# Usage: prompts/generate.sh            (all names)
#        prompts/generate.sh NAME...    (only these names, e.g. conf-getpin digits/5)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
texts="$here/texts.tsv"
out="$here/sounds"
speed=${SPEED:-170}   # words per minute; espeak's default is 175, a touch fast for the phone
target_rms=-16        # dBFS
peak_max=-1           # dBFS

for tool in espeak-ng sox awk; do
	command -v "$tool" >/dev/null || { echo "generate.sh: $tool not found (apt-get install espeak-ng sox)" >&2; exit 1; }
done

declare -A voice=([en]=en [nb]=nb [sv]=sv)
for lang in "${!voice[@]}"; do
	espeak-ng --voices="${voice[$lang]}" | awk 'NR>1{f=1}END{exit !f}' ||
		{ echo "generate.sh: espeak-ng has no voice ${voice[$lang]}" >&2; exit 1; }
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# stats FILE prints "peak_dB rms_dB".
stats() { sox "$1" -n stats 2>&1 | awk '/^Pk lev dB/{p=$4} /^RMS lev dB/{r=$4} END{print p, r}'; }

# render LANG TEXT DEST
render() {
	local lang=$1 text=$2 dest=$3 pk rms boost knee gain
	espeak-ng -v "${voice[$lang]}" -s "$speed" -w "$tmp/raw.wav" -- "$text"
	# 8 kHz, trimmed at both ends (reverse trick: sox's silence effect only trims the start), and
	# espeak's pauses between sentences held to 0.25 s: the menus stay short and the embedded set small.
	sox -D "$tmp/raw.wav" -r 8000 -c 1 -b 16 "$tmp/8k.wav" gain -3 \
		highpass 80 silence -l 1 0.01 -45d -1 0.25 -45d reverse silence 1 0.01 -45d reverse
	# Peaks of synthetic speech sit ~20 dB above its RMS, so plain normalising to
	# -16 dBFS RMS would clip. Lift everything by the missing gain, then squeeze only the
	# top (above -6 dBFS out) into the last few dB with a fast, look-ahead compander.
	sox -D "$tmp/8k.wav" "$tmp/n.wav" gain -n -10
	read -r pk rms < <(stats "$tmp/n.wav")
	boost=$(awk -v t="$target_rms" -v r="$rms" 'BEGIN{printf "%.2f", t - r}')
	knee=$(awk -v b="$boost" 'BEGIN{printf "%.2f", -6 - b}')
	sox -D "$tmp/n.wav" "$tmp/c.wav" compand 0.0002,0.08 \
		"3:-90,$(awk -v b="$boost" 'BEGIN{printf "%.2f", -90 + b}'),$knee,-6,-10,-2" 0 -90 0.0015
	read -r pk rms < <(stats "$tmp/c.wav")
	gain=$(awk -v t="$target_rms" -v r="$rms" -v p="$pk" -v m="$peak_max" \
		'BEGIN{g = t - r; if (m - p < g) g = m - p; printf "%.2f", g}')
	# A 5 ms fade keeps the cut ends from clicking.
	local len
	len=$(soxi -D "$tmp/c.wav")
	mkdir -p "$(dirname "$dest")"
	sox -D "$tmp/c.wav" "$dest" gain "$gain" fade q 0.005 "$len" 0.005
}

want=("$@")
selected() {
	[ ${#want[@]} -eq 0 ] && return 0
	local w
	for w in "${want[@]}"; do [ "$w" = "$1" ] && return 0; done
	return 1
}

# A full run builds into a fresh folder so renamed or removed prompts leave no stale files.
if [ ${#want[@]} -eq 0 ]; then dest_root="$tmp/sounds"; else dest_root="$out"; fi

n=0
while IFS=$'\t' read -r name en nb sv rest; do
	case "$name" in ''|'#'*|name) continue ;; esac
	if [ -z "$en" ] || [ -z "$nb" ] || [ -z "$sv" ] || [ -n "${rest:-}" ]; then
		echo "generate.sh: $texts: bad row for $name (want name, en, nb, sv)" >&2
		exit 1
	fi
	selected "$name" || continue
	render en "$en" "$dest_root/en/$name.wav"
	render nb "$nb" "$dest_root/nb/$name.wav"
	render sv "$sv" "$dest_root/sv/$name.wav"
	n=$((n + 1))
done <"$texts"

if [ ${#want[@]} -eq 0 ]; then
	rm -rf "$out"
	mv "$tmp/sounds" "$out"
fi
echo "generate.sh: $n prompts x 3 languages in $out ($(du -sh "$out" | cut -f1))"
