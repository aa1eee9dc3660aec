/old name: a\.sed drops from here/,/end of the old name/d
s/\bplan_build\b/rec_plan_build/g
s/\brec_observe_all(\([^,()]*\), \([^,()]*\), \([^,()]*\), \([^,()]*\), /rec_observe(\1, \2, \3, \4, 0, /g
