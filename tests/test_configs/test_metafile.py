"""The metafile (model-index.yml -> configs/metafile.yml, mmpose's format)
lists every model config of the repository, and nothing else."""
import yaml

from tests.conftest import REPO_ROOT

#: Config folders that hold no pose model of ours.
NOT_MODELS = ('_base_', 'mmdet')


def metafile_models() -> list:
    """The ``Models`` entries of every file model-index.yml imports."""
    index = yaml.safe_load((REPO_ROOT / 'model-index.yml').read_text())
    models = []
    for path in index['Import']:
        models += yaml.safe_load((REPO_ROOT / path).read_text())['Models']
    return models


def test_every_model_config_is_listed_once():
    listed = [m['Config'] for m in metafile_models()]
    on_disk = sorted(
        str(p.relative_to(REPO_ROOT))
        for p in (REPO_ROOT / 'configs').rglob('*.py')
        if p.relative_to(REPO_ROOT / 'configs').parts[0] not in NOT_MODELS)
    assert sorted(listed) == on_disk
    assert len(set(m['Name'] for m in metafile_models())) == len(listed)


def test_entries_have_mmpose_fields_and_fractional_metrics():
    for model in metafile_models():
        assert model['In Collection'] == 'StackedHourglass', model['Name']
        assert model['Metadata']['Architecture'], model['Name']
        for result in model['Results']:
            assert result['Task'] == 'Body 2D Keypoint'
            for value in result['Metrics'].values():
                assert 0 < value <= 1, (model['Name'], result)
        if 'Weights' in model:
            assert model['Weights'].startswith('http'), model['Name']
