# Renders results/<run>/chart.png from the .dat tables the load client writes; call with -e "datadir='...'".
set terminal pngcairo size 1280,520 font "sans,10"
set output datadir.'/chart.png'
set datafile missing "NaN"
set multiplot layout 1,2 title "copilot-proxy end-to-end: added latency and throughput vs concurrency (loopback, fake upstream)"
set logscale x 2
set xtics ("1" 1, "16" 16, "64" 64, "256" 256)
set xrange [0.8:320]
set grid
set key below
set xlabel "concurrent streams"
set ylabel "median stream time minus direct (ms)"
set title "Added latency (c=1: interleaved rounds; c>=16: under load)"
plot datadir.'/added-latency.dat' using 1:2 with linespoints lw 2 pt 5 lc rgb "#009e73" title "nginx", \
     '' using 1:3 with linespoints lw 2 pt 9 lc rgb "#0072b2" title "proxy relay (/v1/chat/completions)", \
     '' using 1:4 with linespoints lw 2 pt 11 lc rgb "#e69f00" title "proxy translation (/api/chat)"
set xrange [12:320]
set xtics ("16" 16, "64" 64, "256" 256)
set yrange [0:*]
set ylabel "streams/s (32 tokens each)"
set title "Throughput, closed loop"
plot datadir.'/throughput.dat' using 1:2 with linespoints lw 2 pt 7 lc rgb "#555555" title "direct", \
     '' using 1:3 with linespoints lw 2 pt 5 lc rgb "#009e73" title "nginx", \
     '' using 1:4 with linespoints lw 2 pt 9 lc rgb "#0072b2" title "proxy relay", \
     '' using 1:5 with linespoints lw 2 pt 11 lc rgb "#e69f00" title "proxy translation"
unset multiplot
