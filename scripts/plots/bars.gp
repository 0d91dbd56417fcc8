# Clustered bar chart of one data file: the first column names the x positions, the
# first row holds the series titles (double-quoted), "NaN" marks a missing value.
# scripts/plot.py calls it once per output format with these variables (-e):
#   datafile, outfile   input and output paths
#   term                png, svg or pdf
#   nseries             number of bar series
#   errorbars           1: each series is three columns (value, low, high)
#   logy                1: logarithmic y axis
#   ymin                lower end of the y axis ("" to let gnuplot choose)
#   title, ylabel       texts
#   refline, reflabel   y of a dashed reference line and its label ("" for none)
# ymin and refline are numbers written as strings ("1e-05", "0.001"). They are read
# with eval, which parses them as number literals: real("1e-05") is an error in gnuplot
# ("Trailing characters after numeric expression": real() of a string reads only "1").
if (term eq "png") { set terminal pngcairo size 1200,620 font "sans,11" noenhanced }
if (term eq "svg") { set terminal svg size 1200,620 dynamic font "sans,11" noenhanced }
if (term eq "pdf") { set terminal pdfcairo size 7in,3.9in font "sans,9" noenhanced }
set output outfile
set title title
set ylabel ylabel
set style data histograms
if (errorbars) { set style histogram errorbars gap 1 lw 1 } else { set style histogram clustered gap 1 }
set style fill solid 0.85 border -1
set datafile missing "NaN"
set key outside right top vertical Left reverse noautotitle
set grid ytics
set xtics nomirror rotate by -30 left
set ytics nomirror
if (logy) { set logscale y; set format y "%g" }
if (ymin ne "") { eval "ymin_y = " . ymin; set yrange [ymin_y:*] }
if (refline ne "") { eval "ref_y = " . refline; set arrow 1 from graph 0, first ref_y to graph 1, first ref_y nohead dt 2 lw 1.5 lc rgb "#444444"; set label 1 reflabel at graph 0.005, first ref_y offset 0,0.6 left tc rgb "#444444" }
if (errorbars) {
	plot for [i=0:nseries-1] datafile using (column(2+3*i)):(column(3+3*i)):(column(4+3*i)):xtic(1) title columnheader(2+3*i)
} else {
	plot for [i=2:nseries+1] datafile using i:xtic(1) title columnheader(i)
}
