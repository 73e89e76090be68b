#!/bin/sh
# drain-instructions.sh counts, with valgrind's callgrind, the instructions
# the delivery loop spends per delivery and a plain Go HTTP client spends
# per request against the same receiver (BenchmarkLoop_Drain), and prints
# their ratio. Instruction counts do not move with the load of a shared
# machine, unlike the benchmark's rates; they weigh every instruction
# alike, so they compare CPU work, not time. Each figure is the difference
# between runs at two sizes, so start-up and fixed costs cancel out.
# Needs valgrind (apt-get install valgrind); takes a few minutes.
set -eu
cd "$(dirname "$0")/.."
small=${SMALL:-1000}
large=${LARGE:-3000}
bin=$(mktemp -d)/deliver.test
go test -c -o "$bin" ./deliver
count() { # phase n
	out=$(mktemp)
	# One P and no async preemption: callgrind serialises threads and
	# cannot follow Go's preemption signals.
	FGWH_BENCH_ONLY=$1 FGWH_BENCH_N=$2 GOMAXPROCS=1 GODEBUG=asyncpreemptoff=1 \
		valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" \
		-test.run '^$' -test.bench '^BenchmarkLoop_Drain$' -test.benchtime 1x >/dev/null 2>"$out"
	sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$out"
	rm -f "$out"
}
per() { # phase -> instructions per unit between the two sizes
	echo $(( ($(count "$1" "$large") - $(count "$1" "$small")) / (large - small) ))
}
setup=$(per setup)
drain=$(( $(per fgwh) - setup ))
raw=$(per raw)
echo "instructions per delivery (claim, send, record): $drain"
echo "instructions per raw request:                    $raw"
echo "raw / fgwh: $(awk "BEGIN { printf \"%.3f\", $raw / $drain }")"
echo "(filling the store, per delivery: $setup)"
