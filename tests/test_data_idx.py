"""The IDX reader: round trips, hand-written bytes, and every kind of broken file."""

import gzip
import math

import numpy as np
import pytest

from nnscratch.data.idx import IDX_DTYPES, IDXError, decompress, idx_bytes, parse_idx, read_idx, write_idx


def test_parses_hand_written_bytes():
    # magic 00 00, dtype 08 (ubyte), 1 dimension of size 3, then the values
    data = bytes([0, 0, 0x08, 1, 0, 0, 0, 3, 7, 2, 255])
    out = parse_idx(data)
    np.testing.assert_array_equal(out, [7, 2, 255])
    assert out.dtype == np.uint8


def test_multibyte_values_are_big_endian():
    # dtype 0C (int32), shape (2,): 1 and -2 written most significant byte first
    data = bytes([0, 0, 0x0C, 1, 0, 0, 0, 2]) + bytes([0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFE])
    out = parse_idx(data)
    np.testing.assert_array_equal(out, [1, -2])
    assert out.dtype == np.dtype(np.int32)  # native order: the caller never sees '>i4'
    assert out.dtype.isnative


@pytest.mark.parametrize("code, values, expected, dtype", [
    # int16 258 = 0x0102 and -2 = 0xFFFE, most significant byte first
    (0x0B, [0x01, 0x02, 0xFF, 0xFE], [258, -2], np.int16),
    # float32 1.5 = 0x3FC00000 and -2.0 = 0xC0000000 (IEEE 754, big-endian)
    (0x0D, [0x3F, 0xC0, 0, 0, 0xC0, 0, 0, 0], [1.5, -2.0], np.float32),
    # float64 0.1 = 0x3FB999999999999A
    (0x0E, [0x3F, 0xB9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9A], [0.1], np.float64),
    (0x09, [0xFE, 0x7F], [-2, 127], np.int8),            # int8: two's complement
])
def test_hand_written_values_of_every_signed_or_multibyte_code(code, values, expected, dtype):
    data = bytes([0, 0, code, 1, 0, 0, 0, len(expected)]) + bytes(values)
    out = parse_idx(data)
    assert out.dtype == np.dtype(dtype) and out.dtype.isnative
    np.testing.assert_array_equal(out, np.array(expected, dtype=dtype))
    assert idx_bytes(out) == data                        # and written back the same way


@pytest.mark.parametrize("order", [">", "<", "="])
def test_idx_bytes_takes_either_byte_order(order):
    """'>i4' is IDX's own byte order; the bytes written are the same for every order."""
    data = bytes([0, 0, 0x0C, 1, 0, 0, 0, 2, 0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFE])
    assert idx_bytes(np.array([1, -2], dtype=order + "i4")) == data
    floats = np.array([[1.5, -2.0]], dtype=order + "f4")
    assert idx_bytes(floats) == bytes([0, 0, 0x0D, 2, 0, 0, 0, 1, 0, 0, 0, 2,
                                       0x3F, 0xC0, 0, 0, 0xC0, 0, 0, 0])
    np.testing.assert_array_equal(parse_idx(idx_bytes(floats)), floats)
    with pytest.raises(TypeError, match=f"idx_bytes: dtype {np.dtype(order + 'u2')} has no IDX code"):
        idx_bytes(np.zeros(3, dtype=order + "u2"))


@pytest.mark.parametrize("code, dims", [
    (0x08, (2**31, 2**31, 4)),         # 2**64 elements: 0 in int64
    (0x08, (2**32 - 1, 2**32 - 1)),    # (2**32 - 1)**2: negative in int64
    (0x0E, (2**32 - 1, 2**32 - 1, 2**32 - 1)),
])
def test_a_header_announcing_more_elements_than_int64_holds_is_truncated(code, dims):
    header = bytes([0, 0, code, len(dims)]) + np.array(dims, dtype=">u4").tobytes()
    needs = len(header) + math.prod(dims) * IDX_DTYPES[code].itemsize  # exact: Python ints
    assert needs > 2**63
    for data in (header, header + bytes(8)):
        with pytest.raises(IDXError, match=rf"^big.idx: truncated: a header announcing shape "
                                           rf"\({', '.join(map(str, dims))}\) .* needs "
                                           rf"{needs} bytes, the file has {len(data)}$"):
            parse_idx(data, name="big.idx")


@pytest.mark.parametrize("code", sorted(IDX_DTYPES))
@pytest.mark.parametrize("compress", [False, True])
def test_round_trip_every_dtype(tmp_path, rng, code, compress):
    dtype = IDX_DTYPES[code].newbyteorder("=")
    x = (rng.standard_normal((3, 4, 5)) * 50).astype(dtype)
    path = write_idx(x, tmp_path / "a.idx", compress=compress)
    assert path.read_bytes().startswith(b"\x1f\x8b") == compress
    y = read_idx(path)
    np.testing.assert_array_equal(x, y)
    assert y.dtype == dtype and y.flags.writeable


def test_gzip_is_recognized_by_content_not_name(tmp_path):
    x = np.arange(12, dtype=np.uint8).reshape(3, 4)
    raw_named_gz = tmp_path / "raw.gz"
    raw_named_gz.write_bytes(idx_bytes(x))
    gz_named_raw = tmp_path / "compressed.idx"
    gz_named_raw.write_bytes(gzip.compress(idx_bytes(x)))
    np.testing.assert_array_equal(read_idx(raw_named_gz), x)
    np.testing.assert_array_equal(read_idx(gz_named_raw), x)


def test_write_idx_compresses_by_suffix(tmp_path):
    x = np.zeros((2, 2), dtype=np.uint8)
    assert write_idx(x, tmp_path / "x.gz").read_bytes()[:2] == b"\x1f\x8b"
    assert write_idx(x, tmp_path / "x.idx").read_bytes()[:4] == bytes([0, 0, 0x08, 2])


def test_write_idx_is_all_or_nothing(tmp_path, monkeypatch):
    path = write_idx(np.zeros((2, 2), dtype=np.uint8), tmp_path / "x.idx")
    old = path.read_bytes()
    import nnscratch._files as files

    def write_half(f):                                   # the disk fills after two bytes
        f.write(b"\0\0")
        raise OSError(28, "No space left on device")
    real = files.write_atomically
    monkeypatch.setattr("nnscratch.data.idx.write_atomically",
                        lambda p, write, where: real(p, write_half, where=where))
    with pytest.raises(OSError, match=r"write_idx: could not write .*x.idx.*previous file there is unchanged"):
        write_idx(np.ones((3, 3), dtype=np.uint8), path)
    assert path.read_bytes() == old                      # the old file, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.idx"]   # no temporary left


def test_wrong_magic_is_rejected_with_the_bytes_shown():
    data = b"<htm" + b"l>not found</html>"
    with pytest.raises(IDXError, match=r"page.idx: not an IDX file.*3c 68 74 6d"):
        parse_idx(data, name="page.idx")


def test_unknown_dtype_code():
    with pytest.raises(IDXError, match="unknown IDX dtype code 0x07"):
        parse_idx(bytes([0, 0, 0x07, 1, 0, 0, 0, 0]))


def test_wrong_number_of_dimensions():
    data = idx_bytes(np.zeros((2, 3), dtype=np.uint8))
    with pytest.raises(IDXError, match="expected an IDX file with 3 dimensions, the header says 2"):
        parse_idx(data, ndim=3)


@pytest.mark.parametrize("cut", [0, 3, 6, 10])
def test_truncated_header(cut):
    data = idx_bytes(np.zeros((2, 3, 4), dtype=np.uint8))[:cut]
    with pytest.raises(IDXError, match="too short|truncated header"):
        parse_idx(data)


def test_truncated_data_names_expected_and_actual_length():
    data = idx_bytes(np.zeros((2, 3, 4), dtype=np.uint8))
    with pytest.raises(IDXError, match=r"f.idx: truncated.*\(2, 3, 4\).*needs 40 bytes.*has 39"):
        parse_idx(data[:-1], name="f.idx")


def test_trailing_bytes_are_rejected():
    data = idx_bytes(np.zeros(5, dtype=np.uint8)) + b"\x00"
    with pytest.raises(IDXError, match="trailing bytes"):
        parse_idx(data)


def test_damaged_gzip(tmp_path):
    packed = gzip.compress(idx_bytes(np.arange(1000, dtype=np.uint8) % 7))
    path = tmp_path / "cut.gz"
    path.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(IDXError, match=r"cut.gz: gzip data is damaged or truncated"):
        read_idx(path)


def test_decompress_leaves_raw_bytes_alone():
    assert decompress(b"\x00\x00\x08\x00") == b"\x00\x00\x08\x00"


def test_idx_bytes_refuses_dtypes_without_a_code():
    with pytest.raises(TypeError, match="no IDX code"):
        idx_bytes(np.zeros(3, dtype=np.uint16))
