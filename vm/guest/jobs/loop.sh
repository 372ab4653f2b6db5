# One client classifying the same photo 500 times in one session: the host kills the
# guest while it runs (the kill-mid-operation test).
d=/opt/vaccel/data
echo "VACCEL-LOOP-START"
vaccel classify $(for _ in $(seq 500); do echo $d/chelsea.png; done) >/dev/null
echo "VACCEL-LOOP-DONE rc=$?"
