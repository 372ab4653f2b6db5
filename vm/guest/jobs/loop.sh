# Classify forever (until the host kills the guest): the kill-mid-operation test.
i=0
while :; do
	i=$((i + 1))
	/opt/vaccel/examples/classify /opt/vaccel/data/chelsea.png >/dev/null 2>&1
	echo "VACCEL-LOOP $i rc=$?"
done
