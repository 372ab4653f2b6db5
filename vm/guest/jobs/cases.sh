# The cases of the end-to-end test, run in the guest and (by vm/e2e.sh) on the host: the
# same commands, with the C examples under $x, data under $d and the exec library at
# $vaccel_lib. Outputs must be identical, so timings are left out. The ttrpc_* commands
# differ by side: in the guest, upstream's protocol (vaccel-ttrpc-guest, as guests built
# with upstream's rpc client talk to the agent); on the host, the C example in-process.
cli_classify() {
	(cd "$d" && vaccel classify chelsea.png coffee.png rocket.jpg --top 3 --json | grep -v '"ms"')
}
case_ noop $x/noop 3
case_ classify-chelsea $x/classify $d/chelsea.png
case_ classify-coffee $x/classify $d/coffee.png 2
case_ classify-generic-rocket $x/classify_generic $d/rocket.jpg
case_ cli-classify cli_classify
case_ sgemm $x/sgemm
case_ sgemm-generic $x/sgemm_generic
case_ exec $x/exec $vaccel_lib 3
case_ exec-generic $x/exec_generic $vaccel_lib
case_ model-run $x/torch_inference $d/efficientnet-lite0.onnx $d/coffee.f32 $d/imagenet.txt
case_ ttrpc-classify-rocket ttrpc_classify $d/rocket.jpg
case_ ttrpc-classify-chelsea ttrpc_classify $d/chelsea.png
case_ ttrpc-model-run ttrpc_model_run $d/efficientnet-lite0.onnx $d/coffee.f32 $d/imagenet.txt
