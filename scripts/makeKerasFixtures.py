#!/usr/bin/python3
"""Makes the Keras test fixtures under test/fixtures/keras/ in Keras 2's legacy HDF5 layout.

Run with Debian's python3-h5py and numpy (no TensorFlow needed):  /usr/bin/python3 scripts/makeKerasFixtures.py
There is no Keras here, so this writes what keras 2.x `model.save('x.h5')` writes
(keras/saving/legacy/hdf5_format.py), with h5py, the library Keras itself uses:
  root attrs  model_config (JSON, bytes), training_config (JSON, bytes), keras_version, backend
  /model_weights                 attrs layer_names (array of bytes), keras_version, backend
  /model_weights/<layer>         attr weight_names (array of bytes, or an empty float array)
  /model_weights/<layer>/<layer>/kernel:0, .../bias:0   float32 datasets
Fixtures (fixed seeds):
  mlp.h5      Sequential: Dense(8, relu) -> Dense(3, softmax), input 4; fixed-length string attrs
  cnn.h5      functional: Input 6x6x1 -> Conv2D(2, 3x3, relu) -> MaxPooling2D(2) -> Flatten -> Dense(3, softmax);
              variable-length (str) attrs and layer_names split into layer_names0/1 as Keras does for long lists
  nan.h5      mlp.h5 with one NaN in dense_1/kernel:0
  noconfig.h5 an HDF5 file with a dataset but no model_config (not a Keras model)
  mlp.keras   the MLP's weights as Keras 3 saves a model (zip of metadata.json, config.json and
              model.weights.h5 with layers/<snake_case class>[_k]/vars/0..n), Keras 3 config forms,
              with Adam's state under optimizer/vars (an int64 scalar, a float32 scalar, moments)
  cnn.keras   the CNN as a Keras 3 Functional model: every layer has a group, pooling and flatten
              with empty vars; its model.weights.h5 entry is deflated (Keras stores entries
              uncompressed) to check that a rewrite keeps each entry's compression
  twin-mlp.h5, twin-mlp.keras
              the weights of ../onnx/mlp.tfjs.json (the ONNX MLP's TF.js twin): one network in
              TF.js Layers, ONNX, Keras .h5 and .keras (run makeOnnxFixtures.py first)
and <name>.json: {"inputShape": [...], "inputs": [...], "outputShape": [...], "outputs": [...]},
outputs computed with numpy in float64 from the same float32 weights.
"""
import io
import json
import os
import zipfile

import h5py
import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'keras')
KERAS_VERSION = '2.13.1'


def dense_config(name, units, activation):
    return {
        'name': name, 'trainable': True, 'dtype': 'float32', 'units': units, 'activation': activation,
        'use_bias': True,
        'kernel_initializer': {'class_name': 'GlorotUniform', 'config': {'seed': None}},
        'bias_initializer': {'class_name': 'Zeros', 'config': {}},
        'kernel_regularizer': None, 'bias_regularizer': None, 'activity_regularizer': None,
        'kernel_constraint': None, 'bias_constraint': None,
    }


def training_config(loss):
    return {
        'loss': loss, 'metrics': [[{'class_name': 'MeanMetricWrapper', 'config': {'name': 'accuracy', 'dtype': 'float32'}}]],
        'weighted_metrics': None, 'loss_weights': None,
        'optimizer_config': {'class_name': 'Adam', 'config': {'name': 'Adam', 'learning_rate': 0.001}},
    }


def string_attr(value, variable_length):
    """Keras 2 stores `json.dumps(...).encode('utf8')`; newer h5py/Keras paths give str (variable length)."""
    if variable_length:
        return value
    return np.bytes_(value.encode('utf8'))


def write_keras_h5(path, model_config, loss, layers, variable_length, chunk_layer_names=False):
    """layers: [(layer_name, [(weight_name, array), ...])] in model order."""
    with h5py.File(path, 'w') as f:
        f.attrs['backend'] = string_attr('tensorflow', variable_length)
        f.attrs['keras_version'] = string_attr(KERAS_VERSION, variable_length)
        f.attrs['model_config'] = string_attr(json.dumps(model_config), variable_length)
        f.attrs['training_config'] = string_attr(json.dumps(training_config(loss)), variable_length)
        g = f.create_group('model_weights')
        names = np.asarray([name.encode('utf8') for name, _ in layers])
        if chunk_layer_names:
            # What Keras's save_attributes_to_hdf5_group does when the list exceeds the 64 KB attribute limit.
            half = (len(names) + 1) // 2
            g.attrs['layer_names0'] = names[:half]
            g.attrs['layer_names1'] = names[half:]
        else:
            g.attrs['layer_names'] = names
        g.attrs['backend'] = b'tensorflow'
        g.attrs['keras_version'] = KERAS_VERSION.encode('utf8')
        for layer_name, weights in layers:
            lg = g.create_group(layer_name)
            lg.attrs['weight_names'] = np.asarray([w.encode('utf8') for w, _ in weights])  # [] -> empty float64 array, as in Keras
            for weight_name, value in weights:
                ds = lg.create_dataset(weight_name, value.shape, dtype=value.dtype)
                ds[...] = value


def glorot(rng, shape, fan_in, fan_out):
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(np.float32)


def softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def save_reference(name, x, y):
    with open(os.path.join(OUT, name + '.json'), 'w') as f:
        json.dump({'inputShape': list(x.shape), 'inputs': x.astype(np.float64).ravel().tolist(),
                   'outputShape': list(y.shape), 'outputs': y.ravel().tolist()}, f)


def make_mlp():
    rng = np.random.default_rng(1)
    k1 = glorot(rng, (4, 8), 4, 8)
    b1 = rng.normal(0, 0.1, size=8).astype(np.float32)
    k2 = glorot(rng, (8, 3), 8, 3)
    b2 = rng.normal(0, 0.1, size=3).astype(np.float32)
    config = {'class_name': 'Sequential', 'config': {'name': 'sequential', 'layers': [
        {'class_name': 'InputLayer', 'config': {'batch_input_shape': [None, 4], 'dtype': 'float32', 'sparse': False, 'ragged': False, 'name': 'dense_input'}},
        {'class_name': 'Dense', 'config': dense_config('dense', 8, 'relu')},
        {'class_name': 'Dense', 'config': dense_config('dense_1', 3, 'softmax')},
    ]}}
    layers = [('dense', [('dense/kernel:0', k1), ('dense/bias:0', b1)]),
              ('dense_1', [('dense_1/kernel:0', k2), ('dense_1/bias:0', b2)])]
    write_keras_h5(os.path.join(OUT, 'mlp.h5'), config, 'categorical_crossentropy', layers, variable_length=False)

    x = np.random.default_rng(2).normal(size=(5, 4)).astype(np.float32).astype(np.float64)
    h = np.maximum(x @ k1.astype(np.float64) + b1, 0)
    save_reference('mlp', x, softmax(h @ k2.astype(np.float64) + b2))

    write_keras3_mlp(k1, b1, k2, b2)

    k2_nan = k2.copy()
    k2_nan[1, 2] = np.nan
    nan_layers = [layers[0], ('dense_1', [('dense_1/kernel:0', k2_nan), ('dense_1/bias:0', b2)])]
    write_keras_h5(os.path.join(OUT, 'nan.h5'), config, 'categorical_crossentropy', nan_layers, variable_length=False)


def keras3_layer(class_name, config):
    return {'module': 'keras.layers', 'class_name': class_name, 'config': config, 'registered_name': None}


def keras3_dense(name, units, activation, input_dim):
    config = dense_config(name, units, activation)
    config['dtype'] = {'module': 'keras', 'class_name': 'DTypePolicy', 'config': {'name': 'float32'}, 'registered_name': None}
    layer = keras3_layer('Dense', config)
    layer['build_config'] = {'input_shape': [None, input_dim]}
    return layer


def keras3_sequential_mlp(sizes, activations, loss):
    """Keras 3 config.json of a Sequential MLP with Dense layers dense, dense_1, ..."""
    dtype = {'module': 'keras', 'class_name': 'DTypePolicy', 'config': {'name': 'float32'}, 'registered_name': None}
    dense = [keras3_dense('dense' if i == 0 else 'dense_%d' % i, units, activation, sizes[i])
             for i, (units, activation) in enumerate(zip(sizes[1:], activations))]
    return {'module': 'keras', 'class_name': 'Sequential', 'config': {
        'name': 'sequential', 'trainable': True, 'dtype': dtype,
        'layers': [keras3_layer('InputLayer', {'batch_shape': [None, sizes[0]], 'dtype': 'float32', 'sparse': False, 'name': 'input_layer'})] + dense,
        'build_input_shape': [None, sizes[0]]},
        'registered_name': None, 'build_config': {'input_shape': [None, sizes[0]]},
        'compile_config': {'optimizer': 'adam', 'loss': loss, 'metrics': ['accuracy'],
                           'loss_weights': None, 'weighted_metrics': None, 'run_eagerly': False, 'steps_per_execution': 1, 'jit_compile': False}}


def adam_state(rng, weights, iterations):
    """Adam's variables as Keras 3 saves them: iterations, learning_rate, then a momentum and a velocity per weight."""
    state = [np.array(iterations, dtype=np.int64), np.array(0.001, dtype=np.float32)]
    for w in weights:
        state += [rng.normal(0, 1e-3, size=w.shape).astype(np.float32), rng.uniform(0, 1e-5, size=w.shape).astype(np.float32)]
    return state


def write_keras3(name, config, layer_vars, optimizer_vars=(), weights_compression=zipfile.ZIP_STORED):
    """What keras 3.x `model.save('x.keras')` writes (keras/src/saving/saving_lib.py): layer_vars is
    [(group key under layers/, [arrays])] in model order; an empty list gives an empty vars group."""
    metadata = {'keras_version': '3.6.0', 'date_saved': '2026-01-01@00:00:00'}
    weights = io.BytesIO()
    with h5py.File(weights, 'w') as f:
        layers = f.create_group('layers')
        for key, values in layer_vars:
            variables = layers.create_group(key).create_group('vars')
            for i, value in enumerate(values):
                variables.create_dataset(str(i), data=value)
        optimizer = f.create_group('optimizer').create_group('vars')
        for i, value in enumerate(optimizer_vars):
            optimizer.create_dataset(str(i), data=value)
        f.create_group('vars')
    with zipfile.ZipFile(os.path.join(OUT, name), 'w', compression=zipfile.ZIP_STORED) as z:
        for entry, data in (('metadata.json', json.dumps(metadata)), ('config.json', json.dumps(config)), ('model.weights.h5', weights.getvalue())):
            info = zipfile.ZipInfo(entry, date_time=(2026, 1, 1, 0, 0, 0))  # fixed date: same bytes every run
            info.compress_type = weights_compression if entry == 'model.weights.h5' else zipfile.ZIP_STORED
            z.writestr(info, data)


def write_keras3_mlp(k1, b1, k2, b2):
    config = keras3_sequential_mlp([4, 8, 3], ['relu', 'softmax'], 'categorical_crossentropy')
    optimizer = adam_state(np.random.default_rng(5), [k1, b1, k2, b2], iterations=120)
    write_keras3('mlp.keras', config, [('dense', [k1, b1]), ('dense_1', [k2, b2])], optimizer)


def conv2d_valid(x, kernel, bias):
    n, h, w, _ = x.shape
    kh, kw, _, cout = kernel.shape
    out = np.zeros((n, h - kh + 1, w - kw + 1, cout))
    for i in range(h - kh + 1):
        for j in range(w - kw + 1):
            patch = x[:, i:i + kh, j:j + kw, :]
            out[:, i, j, :] = np.tensordot(patch, kernel, axes=([1, 2, 3], [0, 1, 2]))
    return out + bias


def max_pool_2x2(x):
    n, h, w, c = x.shape
    return x[:, :h // 2 * 2, :w // 2 * 2, :].reshape(n, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))


def make_cnn():
    rng = np.random.default_rng(3)
    kc = glorot(rng, (3, 3, 1, 2), 9, 18)
    bc = rng.normal(0, 0.1, size=2).astype(np.float32)
    kd = glorot(rng, (8, 3), 8, 3)
    bd = rng.normal(0, 0.1, size=3).astype(np.float32)

    def node(name, class_name, config, inbound):
        layer = {'class_name': class_name, 'config': {'name': name, 'trainable': True, 'dtype': 'float32', **config}, 'name': name,
                 'inbound_nodes': [[[src, 0, 0, {}] for src in inbound]] if inbound else []}
        return layer

    conv = {'filters': 2, 'kernel_size': [3, 3], 'strides': [1, 1], 'padding': 'valid', 'data_format': 'channels_last',
            'dilation_rate': [1, 1], 'groups': 1, 'activation': 'relu', 'use_bias': True,
            'kernel_initializer': {'class_name': 'GlorotUniform', 'config': {'seed': None}},
            'bias_initializer': {'class_name': 'Zeros', 'config': {}},
            'kernel_regularizer': None, 'bias_regularizer': None, 'activity_regularizer': None,
            'kernel_constraint': None, 'bias_constraint': None}
    dense = {k: v for k, v in dense_config('dense', 3, 'softmax').items() if k not in ('name', 'trainable', 'dtype')}
    config = {'class_name': 'Functional', 'config': {'name': 'model', 'layers': [
        {'class_name': 'InputLayer', 'config': {'batch_input_shape': [None, 6, 6, 1], 'dtype': 'float32', 'sparse': False, 'ragged': False, 'name': 'input_1'},
         'name': 'input_1', 'inbound_nodes': []},
        node('conv2d', 'Conv2D', conv, ['input_1']),
        node('max_pooling2d', 'MaxPooling2D', {'pool_size': [2, 2], 'padding': 'valid', 'strides': [2, 2], 'data_format': 'channels_last'}, ['conv2d']),
        node('flatten', 'Flatten', {'data_format': 'channels_last'}, ['max_pooling2d']),
        node('dense', 'Dense', dense, ['flatten']),
    ], 'input_layers': [['input_1', 0, 0]], 'output_layers': [['dense', 0, 0]]}}
    # Functional models list every layer, weights or not, in layer_names (sorted keys would put 'dense' first).
    layers = [('input_1', []), ('conv2d', [('conv2d/kernel:0', kc), ('conv2d/bias:0', bc)]),
              ('max_pooling2d', []), ('flatten', []), ('dense', [('dense/kernel:0', kd), ('dense/bias:0', bd)])]
    write_keras_h5(os.path.join(OUT, 'cnn.h5'), config, 'categorical_crossentropy', layers, variable_length=True, chunk_layer_names=True)

    x = np.random.default_rng(4).normal(size=(3, 6, 6, 1)).astype(np.float32).astype(np.float64)
    h = max_pool_2x2(np.maximum(conv2d_valid(x, kc.astype(np.float64), bc), 0))
    save_reference('cnn', x, softmax(h.reshape(h.shape[0], -1) @ kd.astype(np.float64) + bd))
    write_keras3_cnn(conv, dense, kc, bc, kd, bd)


def write_keras3_cnn(conv, dense, kc, bc, kd, bd):
    """The CNN as Keras 3 saves a Functional model: inbound nodes as __keras_tensor__ args, and a
    group with vars for every layer in model.layers (the InputLayer included)."""
    dtype = {'module': 'keras', 'class_name': 'DTypePolicy', 'config': {'name': 'float32'}, 'registered_name': None}

    def tensor(shape, source):
        return {'class_name': '__keras_tensor__', 'config': {'shape': shape, 'dtype': 'float32', 'keras_history': [source, 0, 0]}}

    def node(name, class_name, config, source, input_shape):
        layer = keras3_layer(class_name, {'name': name, 'trainable': True, 'dtype': dtype, **config})
        layer.update({'build_config': {'input_shape': input_shape}, 'name': name,
                      'inbound_nodes': [{'args': [tensor(input_shape, source)], 'kwargs': {}}]})
        return layer

    input_layer = keras3_layer('InputLayer', {'batch_shape': [None, 6, 6, 1], 'dtype': 'float32', 'sparse': False, 'name': 'input_layer'})
    input_layer.update({'name': 'input_layer', 'inbound_nodes': []})
    config = {'module': 'keras.src.models.functional', 'class_name': 'Functional', 'config': {
        'name': 'functional', 'trainable': True, 'layers': [
            input_layer,
            node('conv2d', 'Conv2D', conv, 'input_layer', [None, 6, 6, 1]),
            node('max_pooling2d', 'MaxPooling2D', {'pool_size': [2, 2], 'padding': 'valid', 'strides': [2, 2], 'data_format': 'channels_last'}, 'conv2d', [None, 4, 4, 2]),
            node('flatten', 'Flatten', {'data_format': 'channels_last'}, 'max_pooling2d', [None, 2, 2, 2]),
            node('dense', 'Dense', dense, 'flatten', [None, 8]),
        ], 'input_layers': [['input_layer', 0, 0]], 'output_layers': [['dense', 0, 0]]},
        'registered_name': 'Functional', 'build_config': {'input_shape': None},
        'compile_config': {'optimizer': 'adam', 'loss': 'categorical_crossentropy', 'metrics': None,
                           'loss_weights': None, 'weighted_metrics': None, 'run_eagerly': False, 'steps_per_execution': 1, 'jit_compile': False}}
    layer_vars = [('input_layer', []), ('conv2d', [kc, bc]), ('max_pooling2d', []), ('flatten', []), ('dense', [kd, bd])]
    write_keras3('cnn.keras', config, layer_vars, weights_compression=zipfile.ZIP_DEFLATED)


def make_twin_mlp():
    """The ONNX MLP's TF.js twin (Dense kernels [in, out], little-endian float32) as Keras .h5 and .keras."""
    onnx_dir = os.path.join(OUT, '..', 'onnx')
    with open(os.path.join(onnx_dir, 'mlp.tfjs.json')) as f:
        model = json.load(f)
    blob = np.fromfile(os.path.join(onnx_dir, model['weightsManifest'][0]['paths'][0]), dtype='<f4')
    arrays, offset = [], 0
    for spec in model['weightsManifest'][0]['weights']:
        size = int(np.prod(spec['shape']))
        arrays.append(blob[offset:offset + size].reshape(spec['shape']).astype(np.float32))
        offset += size
    assert offset == blob.size, 'mlp.tfjs.weights.bin holds more than the manifest lists'
    tfjs_layers = model['modelTopology']['config']['layers']
    sizes = [arrays[0].shape[0]] + [layer['config']['units'] for layer in tfjs_layers]
    activations = [layer['config']['activation'] for layer in tfjs_layers]
    names = ['dense' if i == 0 else 'dense_%d' % i for i in range(len(tfjs_layers))]
    config = {'class_name': 'Sequential', 'config': {'name': 'sequential', 'layers': [
        {'class_name': 'InputLayer', 'config': {'batch_input_shape': [None, sizes[0]], 'dtype': 'float32', 'sparse': False, 'ragged': False, 'name': 'dense_input'}},
    ] + [{'class_name': 'Dense', 'config': dense_config(n, units, a)} for n, units, a in zip(names, sizes[1:], activations)]}}
    layers = [(n, [(n + '/kernel:0', arrays[2 * i]), (n + '/bias:0', arrays[2 * i + 1])]) for i, n in enumerate(names)]
    write_keras_h5(os.path.join(OUT, 'twin-mlp.h5'), config, 'categorical_crossentropy', layers, variable_length=False)
    keras3 = keras3_sequential_mlp(sizes, activations, 'categorical_crossentropy')
    write_keras3('twin-mlp.keras', keras3, [(n, arrays[2 * i:2 * i + 2]) for i, n in enumerate(names)])


def make_noconfig():
    with h5py.File(os.path.join(OUT, 'noconfig.h5'), 'w') as f:
        f.create_dataset('data', data=np.arange(6, dtype=np.float32).reshape(2, 3))
        f.attrs['description'] = 'an HDF5 file that is not a Keras model'


if __name__ == '__main__':
    os.makedirs(OUT, exist_ok=True)
    make_mlp()
    make_cnn()
    make_twin_mlp()
    make_noconfig()
    for name in sorted(os.listdir(OUT)):
        print(name, os.path.getsize(os.path.join(OUT, name)))
