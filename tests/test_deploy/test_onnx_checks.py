"""ONNX backends on each device either run where asked or refuse in one line
(providers stubbed: no GPU needed), and an ONNX file is refused when it does
not belong to the model: other input size, other weights."""
import onnx
import onnxruntime
import pytest
import torch

from hourglass_plugin.deploy import (WEIGHTS_KEY, BackendUnavailableError,
                                     OnnxMismatchError, OrtHeatmapRunner,
                                     build_heatmap_runner,
                                     check_backend_device, export_onnx,
                                     ort_providers, weights_fingerprint)
from hourglass_plugin.deploy.model_zoo import load_pose_model
from hourglass_plugin.engine.errors import CheckpointError

CUDA = 'CUDAExecutionProvider'
CPU = 'CPUExecutionProvider'


@pytest.fixture
def providers(monkeypatch):
    """Set the provider list onnxruntime reports."""

    def set_providers(*names):
        monkeypatch.setattr(onnxruntime, 'get_available_providers',
                            lambda: list(names))

    return set_providers


def test_cpu_device_uses_the_cpu_provider(providers):
    providers(CUDA, CPU)
    assert ort_providers('cpu') == ([CPU], [{}])


def test_cuda_index_becomes_the_provider_device_id(providers, monkeypatch,
                                                   sample_onnx):
    providers(CUDA, CPU)
    assert ort_providers('cuda:1') == ([CUDA, CPU], [{'device_id': 1}, {}])
    assert ort_providers('cuda') == ([CUDA, CPU], [{'device_id': 0}, {}])
    # the runner hands exactly these to ONNX Runtime's session
    seen = {}
    real_session = onnxruntime.InferenceSession

    def session(path, options, providers, provider_options):
        seen.update(providers=providers, provider_options=provider_options)
        return real_session(path, options, providers=[CPU])

    monkeypatch.setattr(onnxruntime, 'InferenceSession', session)
    runner = OrtHeatmapRunner(sample_onnx, threads=1, device='cuda:1')
    assert seen == dict(
        providers=[CUDA, CPU], provider_options=[{
            'device_id': 1
        }, {}])
    assert runner.device == torch.device('cuda', 1)


def test_cuda_without_the_provider_says_what_to_install(
        providers, sample_onnx):
    providers(CPU)
    message = ('device cuda:0: the installed onnxruntime has no '
               'CUDAExecutionProvider; pip install onnxruntime-gpu, or use '
               '--device cpu')
    with pytest.raises(BackendUnavailableError) as err:
        OrtHeatmapRunner(sample_onnx, device='cuda:0')
    assert str(err.value) == message and '\n' not in message


@pytest.mark.parametrize('backend', ['int8', 'int8-dynamic'])
def test_int8_is_refused_on_cuda_with_the_reason(backend):
    with pytest.raises(
            BackendUnavailableError,
            match=f'^{backend} on cuda:0: ONNX Runtime.s CUDA '
            'provider has no int8 kernels'):
        check_backend_device(backend, 'cuda:0')
    check_backend_device(backend, 'cpu')  # the CPU is int8's device
    check_backend_device('onnx', 'cuda:0')


def test_an_onnx_file_of_another_input_size_is_refused(sample_model, tmp_path):
    small = export_onnx(sample_model, str(tmp_path / 'at64x192.onnx'),
                        (64, 192))
    with pytest.raises(OnnxMismatchError) as err:
        build_heatmap_runner(sample_model, 'onnx', onnx_file=small)
    assert str(err.value) == (
        f"{small}: exported for 64x192 (W x H) input, but the config's "
        'codec.input_size is 128x128')
    assert isinstance(err.value, CheckpointError)  # tools print one line


def test_an_onnx_file_of_other_weights_is_refused_with_the_checkpoint(
        sample_model, sample_onnx, sample_config, tmp_path):
    recorded = OrtHeatmapRunner(sample_onnx).metadata[WEIGHTS_KEY]
    assert recorded == weights_fingerprint(sample_model)
    ckpt = str(tmp_path / 'other.pth')
    torch.manual_seed(1)
    other = load_pose_model(str(sample_config))
    assert weights_fingerprint(other) != recorded
    with pytest.raises(OnnxMismatchError) as err:
        build_heatmap_runner(
            other, 'onnx', onnx_file=sample_onnx, checkpoint=ckpt)
    assert str(err.value) == (
        f'{sample_onnx} was exported from other weights than {ckpt}; export '
        'it from that checkpoint, or give only one of the two')
    # the weights it was exported from pass; without a checkpoint the file
    # alone decides the weights (nothing to compare)
    build_heatmap_runner(
        sample_model, 'onnx', onnx_file=sample_onnx, checkpoint=ckpt)
    build_heatmap_runner(other, 'onnx', onnx_file=sample_onnx)


def test_a_file_without_fingerprint_cannot_be_paired_with_a_checkpoint(
        sample_model, sample_onnx, tmp_path):
    proto = onnx.load(sample_onnx)
    del proto.metadata_props[:]
    bare = str(tmp_path / 'bare.onnx')
    onnx.save(proto, bare)
    with pytest.raises(OnnxMismatchError, match='records no weights'):
        build_heatmap_runner(
            sample_model, 'onnx', onnx_file=bare, checkpoint='c.pth')


def test_the_fingerprint_follows_every_tensor_of_the_state_dict(sample_model):
    before = weights_fingerprint(sample_model)
    bn = next(m for m in sample_model.modules()
              if isinstance(m, torch.nn.BatchNorm2d))
    saved = bn.running_var.clone()
    with torch.no_grad():
        bn.running_var[0] += 1e-3  # a buffer, not a parameter
        assert weights_fingerprint(sample_model) != before
        bn.running_var.copy_(saved)
    assert weights_fingerprint(sample_model) == before


@pytest.mark.gpu
def test_onnx_on_cuda_binds_gpu_tensors_and_matches_the_cpu(
        sample_onnx, real_crops):
    if CUDA not in onnxruntime.get_available_providers():
        pytest.skip('onnxruntime has no CUDAExecutionProvider '
                    '(pip install onnxruntime-gpu)')
    crops = real_crops['mpii'][:4]
    expected = OrtHeatmapRunner(sample_onnx)(crops)
    got = OrtHeatmapRunner(sample_onnx, device='cuda:0')(crops.cuda())
    assert got.device == torch.device('cuda', 0)  # bound on the GPU
    assert (got.cpu() - expected).abs().max() <= 1e-3 * expected.abs().max()
