"""The handshake's config digest (crc32 and length) tells any two different config files apart in practice."""

from hypothesis import given
from hypothesis import strategies as st

from cidx.fastpath.config import config_digest

configs = st.binary(min_size=1, max_size=4000)


@given(configs, st.data())
def test_any_edit_of_one_or_two_bytes_changes_the_digest(data, draw):
    edited = bytearray(data)
    for _ in range(draw.draw(st.integers(1, 2))):
        i = draw.draw(st.integers(0, len(data) - 1))
        edited[i] = draw.draw(st.integers(0, 255))
    assert (config_digest(bytes(edited)) == config_digest(data)) == (bytes(edited) == data)


@given(configs, st.integers(0, 3999), st.integers(0, 3999))
def test_swapping_two_bytes_changes_the_digest(data, i, j):
    i, j = i % len(data), j % len(data)
    swapped = bytearray(data)
    swapped[i], swapped[j] = data[j], data[i]
    assert (config_digest(bytes(swapped)) == config_digest(data)) == (bytes(swapped) == data)


@given(configs)
def test_appending_or_prepending_changes_the_digest(data):
    for other in (data + b" ", b"\x00" + data, data + b"\x00", data[:-1]):
        assert config_digest(other) != config_digest(data)


def test_same_bytes_same_digest_across_calls():
    text = b'{"daemon": {"enabled": true}}'
    assert config_digest(text) == config_digest(bytes(bytearray(text)))
