"""TFLite -> ONNX for the MediaPipe models tomoni runs (person segmentation, pose landmarks).

No Rust runtime loads MediaPipe's .tflite files as shipped (fp16 weights, a custom transposed
convolution), so `cargo xtask` converts them once at set-up with the PyPI `tflite` (flatbuffer
reader) and `onnx` packages. Only the operators these models use are handled; anything else is
refused by name. The graph is carried in NCHW (ONNX's layout): the NHWC input is transposed once
at the start and 4-D outputs back at the end, so the outputs match the TFLite model's.

usage: tflite_onnx.py IN.tflite OUT.onnx
"""

import struct
import sys

import numpy as np
import onnx
import tflite
from onnx import TensorProto, helper, numpy_helper
from tflite.BuiltinOperator import BuiltinOperator
from tflite.TensorType import TensorType

OP_NAMES = {v: k for k, v in BuiltinOperator.__dict__.items() if not k.startswith("_")}
NP_TYPES = {
    TensorType.FLOAT32: np.float32,
    TensorType.FLOAT16: np.float16,
    TensorType.INT32: np.int32,
    TensorType.INT64: np.int64,
}
# NHWC axis -> NCHW axis.
AXIS = {0: 0, 1: 2, 2: 3, 3: 1}
ACTIVATIONS = {0: None, 1: "Relu", 3: "Relu6"}


class Converter:
    def __init__(self, data):
        self.model = tflite.Model.GetRootAsModel(data, 0)
        self.g = self.model.Subgraphs(0)
        self.nodes, self.inits, self.consts = [], [], {}
        self.count = 0
        self.pending = {}

    def name(self, i):
        return self.g.Tensors(i).Name().decode()

    def shape(self, i):
        return [int(v) for v in self.g.Tensors(i).ShapeAsNumpy()]

    def fresh(self, base):
        self.count += 1
        return f"{base}__{self.count}"

    def const_value(self, i):
        """The tensor's constant value (fp16 weights come back as float32), or None."""
        if i in self.consts:
            return self.consts[i]
        t = self.g.Tensors(i)
        buf = self.model.Buffers(t.Buffer())
        if buf is None or buf.DataLength() == 0:
            return None
        a = np.frombuffer(buf.DataAsNumpy().tobytes(), dtype=NP_TYPES[t.Type()]).reshape(t.ShapeAsNumpy())
        if a.dtype == np.float16:
            a = a.astype(np.float32)
        self.consts[i] = a
        return a

    def init(self, value, base):
        n = self.fresh(base)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(value), n))
        return n

    def node(self, op, ins, outs, **attrs):
        self.nodes.append(helper.make_node(op, ins, outs, name=self.fresh(op), **attrs))
        # A fused activation follows the node whose raw output it takes.
        pending = self.pending.pop(outs[0], None) if outs else None
        if pending:
            self.nodes.append(pending)

    def operand(self, i):
        """A tensor as an operand: constants become initializers (4-D ones in NCHW)."""
        c = self.const_value(i)
        if c is None:
            return self.t(i)
        if c.ndim == 4:
            c = c.transpose(0, 3, 1, 2)
        elif c.ndim == 1 and c.size > 1:
            c = c.reshape(-1, 1, 1)  # per-channel, broadcast over H and W
        return self.init(c, self.name(i))

    def activate(self, out, act):
        if ACTIVATIONS.get(act, "?") == "?":
            raise SystemExit(f"unsupported fused activation {act}")
        if ACTIVATIONS[act] is None:
            return out
        raw = self.fresh(out + "_pre")
        kind = ACTIVATIONS[act]
        if kind == "Relu6":
            lo, hi = self.init(np.float32(0), "zero"), self.init(np.float32(6), "six")
            self.pending[raw] = helper.make_node("Clip", [raw, lo, hi], [out], name=self.fresh("Clip"))
        else:
            self.pending[raw] = helper.make_node(kind, [raw], [out], name=self.fresh(kind))
        return raw

    def pads(self, padding, size_in, k, s, d=1):
        """TFLite SAME (0) / VALID (1) as explicit ONNX pads for one spatial axis."""
        if padding == 1:
            return 0, 0
        out = -(-size_in // s)
        total = max(0, (out - 1) * s + (k - 1) * d + 1 - size_in)
        return total // 2, total - total // 2

    def convert(self):
        g = self.g
        inputs, outputs = [], []
        for k in range(g.InputsLength()):
            i = g.Inputs(k)
            n, sh = self.name(i), self.shape(i)
            inputs.append(helper.make_tensor_value_info(n, TensorProto.FLOAT, sh))
            self.node("Transpose", [n], [n + "__nchw"], perm=[0, 3, 1, 2])
        self.rename = {g.Inputs(k): self.name(g.Inputs(k)) + "__nchw" for k in range(g.InputsLength())}
        for k in range(g.OperatorsLength()):
            self.op(g.Operators(k))
        for k in range(g.OutputsLength()):
            i = g.Outputs(k)
            n, sh = self.name(i), self.shape(i)
            if len(sh) == 4:
                self.node("Transpose", [self.t(i)], [n], perm=[0, 2, 3, 1])
            else:
                self.node("Identity", [self.t(i)], [n])
            outputs.append(helper.make_tensor_value_info(n, TensorProto.FLOAT, sh))
        graph = helper.make_graph(self.nodes, "mediapipe", inputs, outputs, self.inits)
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="tomoni")
        onnx.checker.check_model(m)
        return m

    def t(self, i):
        """The ONNX name carrying tensor i (NCHW if 4-D)."""
        return self.rename.get(i, self.name(i) + "__t")

    def op(self, op):
        oc = self.model.OperatorCodes(op.OpcodeIndex())
        code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
        kind = OP_NAMES.get(code, str(code))
        ins = [op.Inputs(j) for j in range(op.InputsLength())]
        outs = [op.Outputs(j) for j in range(op.OutputsLength())]
        out = self.t(outs[0])
        opts = op.BuiltinOptions()

        def options(cls):
            o = cls()
            o.Init(opts.Bytes, opts.Pos)
            return o

        if kind == "DEQUANTIZE":
            self.consts[outs[0]] = self.const_value(ins[0])
            return
        if kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            depthwise = kind == "DEPTHWISE_CONV_2D"
            o = options(tflite.DepthwiseConv2DOptions if depthwise else tflite.Conv2DOptions)
            w = self.const_value(ins[1])
            if depthwise:
                c = self.shape(ins[0])[3]
                w = w.transpose(3, 0, 1, 2)  # [1,H,W,C*m] -> [C*m,1,H,W]
                group = c
            else:
                w = w.transpose(0, 3, 1, 2)
                group = 1
            kh, kw = w.shape[2], w.shape[3]
            _, h, wd, _ = self.shape(ins[0])
            dh, dw = o.DilationHFactor(), o.DilationWFactor()
            ph = self.pads(o.Padding(), h, kh, o.StrideH(), dh)
            pw = self.pads(o.Padding(), wd, kw, o.StrideW(), dw)
            operands = [self.t(ins[0]), self.init(w, self.name(ins[1]))]
            if len(ins) > 2 and ins[2] >= 0:
                operands.append(self.init(self.const_value(ins[2]), self.name(ins[2])))
            raw = self.activate(out, o.FusedActivationFunction())
            self.node(
                "Conv", operands, [raw], kernel_shape=[kh, kw], strides=[o.StrideH(), o.StrideW()],
                dilations=[dh, dw], pads=[ph[0], pw[0], ph[1], pw[1]], group=group,
            )
            return
        if kind == "CUSTOM" and oc.CustomCode() == b"Convolution2DTransposeBias":
            # MediaPipe's transposed convolution with bias; its options are TfLiteTransposeConvParams
            # (padding, stride_width, stride_height) as raw int32s.
            raw_opts = op.CustomOptionsAsNumpy().tobytes()
            padding, sw, sh = struct.unpack("<3i", raw_opts[:12])
            w = self.const_value(ins[1]).transpose(3, 0, 1, 2)  # [O,H,W,I] -> [I,O,H,W]
            kh, kw = w.shape[2], w.shape[3]
            _, h, wd, _ = self.shape(ins[0])
            _, oh, ow, _ = self.shape(outs[0])
            # TensorFlow's transposed-convolution padding: that of the forward convolution from
            # the output back to the input.
            th = max(0, (h - 1) * sh + kh - oh) if padding != 1 else 0
            tw = max(0, (wd - 1) * sw + kw - ow) if padding != 1 else 0
            pads = [th // 2, tw // 2, th - th // 2, tw - tw // 2]
            operands = [self.t(ins[0]), self.init(w, self.name(ins[1])), self.init(self.const_value(ins[2]), "bias")]
            self.node("ConvTranspose", operands, [out], kernel_shape=[kh, kw], strides=[sh, sw], pads=pads)
            return
        if kind in ("ADD", "MUL"):
            o = options(tflite.AddOptions if kind == "ADD" else tflite.MulOptions)
            raw = self.activate(out, o.FusedActivationFunction())
            self.node("Add" if kind == "ADD" else "Mul", [self.operand(ins[0]), self.operand(ins[1])], [raw])
            return
        if kind in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):
            o = options(tflite.Pool2DOptions)
            _, h, wd, _ = self.shape(ins[0])
            ph = self.pads(o.Padding(), h, o.FilterHeight(), o.StrideH())
            pw = self.pads(o.Padding(), wd, o.FilterWidth(), o.StrideW())
            raw = self.activate(out, o.FusedActivationFunction())
            attrs = dict(kernel_shape=[o.FilterHeight(), o.FilterWidth()], strides=[o.StrideH(), o.StrideW()],
                         pads=[ph[0], pw[0], ph[1], pw[1]])
            if kind == "AVERAGE_POOL_2D":
                attrs["count_include_pad"] = 0  # TensorFlow averages over the real pixels only
            self.node("MaxPool" if kind == "MAX_POOL_2D" else "AveragePool", [self.t(ins[0])], [raw], **attrs)
            return
        if kind == "PAD":
            p = self.const_value(ins[1])  # [[n0,n1],[h0,h1],[w0,w1],[c0,c1]]
            order = [0, 3, 1, 2]
            pads = [int(p[a][0]) for a in order] + [int(p[a][1]) for a in order]
            self.node("Pad", [self.t(ins[0]), self.init(np.array(pads, np.int64), "pads")], [out])
            return
        if kind == "RESIZE_BILINEAR":
            o = options(tflite.ResizeBilinearOptions)
            size = self.const_value(ins[1])
            n, _, _, c = self.shape(ins[0])
            mode = "align_corners" if o.AlignCorners() else "half_pixel" if o.HalfPixelCenters() else "asymmetric"
            sizes = self.init(np.array([n, c, size[0], size[1]], np.int64), "sizes")
            self.node("Resize", [self.t(ins[0]), "", "", sizes], [out], mode="linear",
                      coordinate_transformation_mode=mode)
            return
        if kind == "RESHAPE":
            src, dst = self.shape(ins[0]), self.shape(outs[0])
            x = self.t(ins[0])
            if len(src) == 4:
                nhwc = self.fresh("nhwc")
                self.node("Transpose", [x], [nhwc], perm=[0, 2, 3, 1])
                x = nhwc
            target = self.init(np.array(dst, np.int64), "shape")
            if len(dst) == 4:
                flat = self.fresh("reshaped")
                self.node("Reshape", [x, target], [flat])
                self.node("Transpose", [flat], [out], perm=[0, 3, 1, 2])
            else:
                self.node("Reshape", [x, target], [out])
            return
        if kind == "CONCATENATION":
            o = options(tflite.ConcatenationOptions)
            rank = len(self.shape(outs[0]))
            axis = o.Axis() % rank
            raw = self.activate(out, o.FusedActivationFunction())
            self.node("Concat", [self.operand(i) for i in ins], [raw], axis=AXIS[axis] if rank == 4 else axis)
            return
        simple = {"LOGISTIC": "Sigmoid", "HARD_SWISH": "HardSwish", "RELU": "Relu"}
        if kind in simple:
            self.node(simple[kind], [self.t(ins[0])], [out])
            return
        raise SystemExit(f"unsupported TFLite operator {kind}")


def main():
    src, dst = sys.argv[1], sys.argv[2]
    with open(src, "rb") as f:
        m = Converter(f.read()).convert()
    onnx.save(m, dst)


if __name__ == "__main__":
    main()
