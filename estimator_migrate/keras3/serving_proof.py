"""Serves two SavedModels side by side, as TensorFlow Serving would.

Runs only in the modern environment (current TensorFlow, with
`tensorflow-serving-api`); `estimator_migrate.export.serving_parity` starts
it and compares what it replies. argv[1]: JSON list of jobs [estimator,
ours, inputs, output]: the estimator's own SavedModel, an export's
`saved_model/`, an .npz of the requests' inputs (serialized tf.Examples as
`examples_bytes` + `examples_lengths`, or `examples`; else raw tensors by
receiver key) and the .npz to write. For each job and each of the
estimator's signatures, both models are called on the same inputs, and
TensorFlow Serving's requests (ClassificationRequest, RegressionRequest,
PredictRequest) are answered by `handle`, which maps them to signatures as
Serving's classifier.cc, regressor.cc and predict_util.cc do. Replies per
job: [each model's SignatureDefs (method, inputs and outputs with dtype and
shape, no tensor names), its `saved_model_cli show --all` listing of them
stripped of tensor names, and the requests' errors; the output path]. The
outputs go to the .npz as `<side>/<signature>/<key>` and
`client/<side>/<signature>/<field>`.
"""

import contextlib
import io
import json
import os
import sys

import jobs
import numpy as np
import tensorflow as tf
from tensorflow.core.framework import types_pb2
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow.python.tools import saved_model_cli

try:
  from tensorflow_serving.apis import classification_pb2
  from tensorflow_serving.apis import predict_pb2
  from tensorflow_serving.apis import regression_pb2
except ImportError as e:  # one line, which the TF 2.15 side reports
  sys.exit(
      f'tensorflow-serving-api is not installed in {sys.prefix} ({e}):'
      ' install it there with `pip install tensorflow-serving-api` (the'
      ' version requirements-modern.lock pins), or recreate the environment'
      ' with `make .venv-modern`'
  )

CLASSIFY = 'tensorflow/serving/classify'
REGRESS = 'tensorflow/serving/regress'
DEFAULT = 'serving_default'
# Signatures of the export alone: its feature-dict signature, TF 2's init.
OWN = ('serving_raw', '__saved_model_init_op')


class ServingError(Exception):
  """What Serving answers with an error status (its message)."""


def signature_defs(path):
  """Signature key -> SignatureDef of the SavedModel at `path`."""
  saved = saved_model_pb2.SavedModel()
  with open(os.path.join(path, 'saved_model.pb'), 'rb') as f:
    saved.ParseFromString(f.read())
  (graph,) = saved.meta_graphs
  return dict(graph.signature_def)


def describe(signature):
  """A SignatureDef without tensor names: method, inputs, outputs."""

  def infos(items):
    return {
        key: [
            types_pb2.DataType.Name(info.dtype),
            [d.size for d in info.tensor_shape.dim],
        ]
        for key, info in sorted(items)
    }

  return {
      'method': signature.method_name,
      'inputs': infos(signature.inputs.items()),
      'outputs': infos(signature.outputs.items()),
  }


def listing(path):
  """`saved_model_cli show --all`'s SignatureDefs, tensor names stripped.

  The export's own signatures (OWN), the line listing the graph's ops and
  what follows the SignatureDefs (TF 2 concrete functions) are left out.
  """
  out = io.StringIO()
  with contextlib.redirect_stdout(out):
    saved_model_cli._show_all(path)  # noqa: SLF001 (the CLI's own code)
  text = out.getvalue().split('\nConcrete Functions:')[0]
  kept, skip = [], False
  for line in text.splitlines():
    if line.startswith("signature_def['"):
      skip = line.split("'")[1] in OWN
    if line.startswith('The MetaGraph with tag set'):
      continue  # the graph's ops, which differ (TF 1 graph, TF 2 functions)
    if not skip and not line.strip().startswith('name: '):
      kept.append(line.rstrip())
  return '\n'.join(kept).strip() + '\n'


def _signature(defs, request, method=None):
  name = request.model_spec.signature_name or DEFAULT
  if name not in defs:
    raise ServingError(f'No signature was found with the name: {name}')
  signature = defs[name]
  if method is not None and signature.method_name != method:
    raise ServingError(
        f'Expected {method} signature method_name to be {method}. Was:'
        f' {signature.method_name}'
    )
  return name, signature


def _examples(request_input):
  return tf.constant(
      [e.SerializeToString() for e in request_input.example_list.examples]
  )


def _call_single_input(model, name, signature, examples):
  if len(signature.inputs) != 1:
    raise ServingError(
        f'Expected one input Tensor, got {len(signature.inputs)}'
    )
  (key,) = signature.inputs
  return model.signatures[name](**{key: examples})


def classify(model, defs, request):
  """Serving's Classify: the signature's classes and scores per example."""
  name, signature = _signature(defs, request, CLASSIFY)
  examples = _examples(request.input)
  outputs = _call_single_input(model, name, signature, examples)
  classes = outputs.get('classes')
  scores = outputs.get('scores')
  if classes is None and scores is None:
    raise ServingError('Expected classes and/or scores outputs')
  count = int(examples.shape[0])
  for tensor in (classes, scores):
    if tensor is not None and (
        tensor.shape.rank != 2 or tensor.shape[0] != count
    ):
      raise ServingError(
          'Expected Tensor shape: [batch_size num_classes] but got'
          f' {tensor.shape}'
      )
  if classes is not None and scores is not None:
    if classes.shape[1] != scores.shape[1]:
      raise ServingError('Tensors class and score should match in dim_size(1)')
  response = classification_pb2.ClassificationResponse()
  width = (classes if classes is not None else scores).shape[1]
  for i in range(count):
    result = response.result.classifications.add()
    for j in range(width):
      entry = result.classes.add()
      if classes is not None:
        entry.label = classes[i, j].numpy().decode()
      if scores is not None:
        entry.score = float(scores[i, j])
  return response


def regress(model, defs, request):
  """Serving's Regress: the signature's one output value per example."""
  name, signature = _signature(defs, request, REGRESS)
  examples = _examples(request.input)
  outputs = _call_single_input(model, name, signature, examples)
  values = outputs['outputs']
  count = int(examples.shape[0])
  if (
      not (
          values.shape.rank == 1
          or (values.shape.rank == 2 and values.shape[1] == 1)
      )
      or values.shape[0] != count
  ):
    raise ServingError(
        'Expected output Tensor shape to be either [batch_size] or'
        f' [batch_size, 1] but got {values.shape}'
    )
  response = regression_pb2.RegressionResponse()
  for value in tf.reshape(values, [-1]).numpy():
    response.result.regressions.add().value = float(value)
  return response


def predict(model, defs, request):
  """Serving's Predict: the request's inputs by key, every output."""
  name, signature = _signature(defs, request)
  if set(request.inputs) != set(signature.inputs):
    raise ServingError(
        f'input keys {sorted(request.inputs)} do not match the signature'
        f' {sorted(signature.inputs)}'
    )
  inputs = {
      key: tf.constant(tf.make_ndarray(proto))
      for key, proto in request.inputs.items()
  }
  outputs = model.signatures[name](**inputs)
  keys = list(request.output_filter) or sorted(signature.outputs)
  response = predict_pb2.PredictResponse()
  response.model_spec.signature_name = name
  for key in keys:
    response.outputs[key].CopyFrom(tf.make_tensor_proto(outputs[key].numpy()))
  return response


def handle(model, defs, request):
  """Answers a Serving request (Classify, Regress, Predict) as Serving does."""
  if isinstance(request, classification_pb2.ClassificationRequest):
    return classify(model, defs, request)
  if isinstance(request, regression_pb2.RegressionRequest):
    return regress(model, defs, request)
  return predict(model, defs, request)


def requests(defs, inputs):
  """The requests a client sends for each signature of `defs`."""
  out = {}
  examples = None
  if 'examples' in inputs:
    examples = [tf.train.Example.FromString(e) for e in inputs['examples']]
  for name, signature in sorted(defs.items()):
    if name in OWN:
      continue
    if signature.method_name in (CLASSIFY, REGRESS) and examples is not None:
      kind = (
          classification_pb2.ClassificationRequest
          if signature.method_name == CLASSIFY
          else regression_pb2.RegressionRequest
      )
      request = kind()
      request.input.example_list.examples.extend(examples)
    else:
      request = predict_pb2.PredictRequest()
      for key in signature.inputs:
        request.inputs[key].CopyFrom(tf.make_tensor_proto(inputs[key]))
    request.model_spec.name = 'model'
    request.model_spec.signature_name = name
    out[name] = request
  return out


def response_arrays(response):
  """A response's content as arrays by field."""
  if isinstance(response, classification_pb2.ClassificationResponse):
    rows = response.result.classifications
    return {
        'labels': np.array([[c.label for c in r.classes] for r in rows], bytes),
        'scores': np.array([[c.score for c in r.classes] for r in rows]),
    }
  if isinstance(response, regression_pb2.RegressionResponse):
    return {'values': np.array([r.value for r in response.result.regressions])}
  return {
      k: _numpy(tf.make_ndarray(v)) for k, v in sorted(response.outputs.items())
  }


def _numpy(value):
  value = np.asarray(value)
  return value.astype(bytes) if value.dtype == object else value


def read_inputs(path):
  """The requests' inputs: serialized tf.Examples as `examples`, or tensors.

  Examples come as one byte buffer and their lengths: a numpy bytes array
  would drop an example's trailing zero bytes (a last feature of `''` or
  0).
  """
  with np.load(path) as f:
    inputs = {k: f[k] for k in f.files}
  if 'examples_lengths' in inputs:
    data = inputs.pop('examples_bytes').tobytes()
    ends = np.cumsum(inputs.pop('examples_lengths'))
    starts = np.concatenate([[0], ends[:-1]])
    inputs['examples'] = np.array(
        [data[a:b] for a, b in zip(starts, ends, strict=True)], dtype=object
    )
  return inputs


def prove(estimator, ours, inputs_path, output):
  """Calls both SavedModels and answers Serving's requests with each."""
  inputs = read_inputs(inputs_path)
  paths = {'estimator': estimator, 'ours': ours}
  defs = {side: signature_defs(path) for side, path in paths.items()}
  models = {side: tf.saved_model.load(path) for side, path in paths.items()}
  arrays, errors = {}, {}
  names = sorted(k for k in defs['estimator'] if k not in OWN)
  for side, model in models.items():
    errors[side] = {}
    for name in names:
      signature = defs['estimator'][name]
      feed = {
          key: tf.constant(inputs['examples' if 'examples' in inputs else key])
          for key in signature.inputs
      }
      if name in model.signatures:
        outputs = model.signatures[name](**feed)
        for key, value in outputs.items():
          arrays[f'{side}/{name}/{key}'] = _numpy(value)
    for name, request in requests(defs['estimator'], inputs).items():
      try:
        response = handle(model, defs[side], request)
      except ServingError as e:
        errors[side][name] = str(e)
        continue
      for key, value in response_arrays(response).items():
        arrays[f'client/{side}/{name}/{key}'] = value
  np.savez(output, **arrays)
  return [
      {
          'signatures': {
              side: {k: describe(v) for k, v in sorted(d.items())}
              for side, d in defs.items()
          },
          'listing': {side: listing(path) for side, path in paths.items()},
          'errors': errors,
      },
      output,
  ]


def main(argv):
  return [prove(*job) for job in json.loads(argv[0])]


if __name__ == '__main__':
  jobs.reply(main(sys.argv[1:]))
