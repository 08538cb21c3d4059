# Renders results/<run>/soak.png from soak.csv; call with -e "datadir='...'".
set terminal pngcairo size 1280,720 font "sans,10"
set output datadir.'/soak.png'
set datafile separator ","
set key autotitle columnhead below
set grid
set xlabel "elapsed (s)"
set multiplot layout 2,2 title "copilot-proxy soak: 100 concurrent mixed streams against a fake upstream (loopback)"
set title "Resident memory"
set ylabel "MiB"
set yrange [0:*]
plot datadir.'/soak.csv' using 1:2 with linespoints lw 2 pt 7 ps 0.5 lc rgb "#0072b2" title "RSS"
set title "Latency per request"
set ylabel "ms"
plot datadir.'/soak.csv' using 1:8 with lines lw 2 lc rgb "#009e73" title "p50", \
     '' using 1:9 with lines lw 2 lc rgb "#d55e00" title "p99"
set title "Handles and threads"
set ylabel "count"
plot datadir.'/soak.csv' using 1:3 with lines lw 2 lc rgb "#555555" title "open handles", \
     '' using 1:4 with lines lw 2 lc rgb "#e69f00" title "threads", \
     '' using 1:10 with lines lw 2 lc rgb "#cc79a7" title "upstream connections"
set title "Throughput and errors"
set ylabel "requests/s"
set y2label "errors (cumulative)"
set y2tics
plot datadir.'/soak.csv' using 1:7 with lines lw 2 lc rgb "#0072b2" title "requests/s", \
     '' using 1:6 axes x1y2 with lines lw 2 lc rgb "#d55e00" title "errors"
unset multiplot
