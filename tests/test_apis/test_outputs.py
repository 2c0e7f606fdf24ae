"""Output names of a top-down run: the input's stem unless two inputs (or an
input and the failure list) would share it; then the whole file name, until
no two names are equal (case-insensitively)."""
from pathlib import Path

import pytest

from hourglass_plugin.apis import InferenceError, output_names


def names(*files: str) -> dict:
    return {
        p.name: n
        for p, n in output_names([Path(f) for f in files]).items()
    }


def test_stems_when_they_differ():
    assert names('x/a.jpg', 'x/b.png') == {'a.jpg': 'a', 'b.png': 'b'}


def test_shared_stems_and_the_failure_list_give_whole_names():
    assert names('a.jpg', 'a.png', 'failures.jpg', 'c.jpg') == {
        'a.jpg': 'a.jpg',
        'a.png': 'a.png',
        'failures.jpg': 'failures.jpg',
        'c.jpg': 'c'
    }
    # stems equal up to case collide on macOS and Windows file systems
    assert names('A.jpg', 'a.png') == {'A.jpg': 'A.jpg', 'a.png': 'a.png'}


def test_a_whole_name_equal_to_another_stem_is_resolved_too():
    """a.jpg and a.png take their whole names; 'a.jpg' is then the stem of
    a.jpg.png, which takes its whole name as well."""
    assert names('a.jpg', 'a.png', 'a.jpg.png') == {
        'a.jpg': 'a.jpg',
        'a.png': 'a.png',
        'a.jpg.png': 'a.jpg.png'
    }


def test_an_input_named_like_the_failure_list_without_suffix_is_refused():
    with pytest.raises(InferenceError) as raised:
        output_names([Path('in/failures')])
    assert str(raised.value) == (
        'input in/failures: its results would take the name of the failure '
        'list failures.json; rename the file')
