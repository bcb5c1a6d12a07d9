"""Long scans are measured in chunks, and a chunk whose data go bad is repeated on its own."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_api_sim import measurement

from hal.errors import DataError
from hal.scan import decoder_summary, plan_chunks


@given(n_outer=st.integers(1, 60), n_inner=st.integers(0, 5), per_point=st.integers(1, 10_000),
       budget=st.integers(1, 200_000))
def test_chunks_cover_the_scan_in_order_and_respect_the_budget(n_outer, n_inner, per_point,
                                                               budget):
    values = (np.arange(n_outer) * 2 + 10,) + ((np.arange(n_inner),) if n_inner else ())
    chunks = plan_chunks(values, per_point, budget)
    np.testing.assert_array_equal(np.concatenate([c[0] for c in chunks]), values[0])
    inner = max(n_inner, 1)
    for c in chunks:
        assert len(c[0]) >= 1
        assert len(c[0]) == 1 or len(c[0]) * inner * per_point <= budget
        assert all(a is b for a, b in zip(c[1:], values[1:], strict=True))


def test_a_map_is_one_chunk():
    assert plan_chunks((), 4160 * 10, 1) == [()]


def write_spec(tmp_path, text: str) -> str:
    path = tmp_path / "faults.toml"
    path.write_text(text)
    return str(path)


def test_bad_chunks_are_repeated_alone_and_the_data_equal_a_clean_scan(tmp_path):
    ntrig, lo, hi, step = 4, 0, 96, 4
    clean, _ = measurement("sim://roc?seed=3&defects=none")
    clean.chunk_triggers = 4160 * ntrig * 3
    ref = clean.dac_scan("vcal", lo, hi, ntrig, step=step)
    assert ref.retries == 0 and len(ref.values[0]) == 25

    spec = write_spec(tmp_path, "link_bit_error_rate = 3e-7\n")
    noisy, _ = measurement(f"sim://roc?seed=3&defects={spec}")
    noisy.chunk_triggers = 4160 * ntrig * 3  # 9 chunks of 3 Vcal points (the last: 1)
    noisy.retries = 6
    calls: list[tuple[int, int]] = []
    noisy.progress = lambda done, total: calls.append((done, total))
    data = noisy.dac_scan("vcal", lo, hi, ntrig, step=step)

    assert 1 <= data.retries < 9  # some chunks went bad, and only those were repeated
    assert len(data.retry_problems) == data.retries
    assert all("decoder errors" in p and p.startswith("vcal ") for p in data.retry_problems)
    assert not data.stats.errors()  # the kept data are clean
    assert decoder_summary(data)["chunk_retries"] == data.retries
    np.testing.assert_array_equal(data.values[0], ref.values[0])
    assert data.hits.shape == ref.hits.shape == (1, 4160, 25)
    # the same S-curves within binomial noise: total hits per pixel and per Vcal point
    a, b = data.hits.sum(axis=2), ref.hits.sum(axis=2)
    assert np.abs(a - b).max() <= 8
    np.testing.assert_allclose(data.hits.sum(axis=1), ref.hits.sum(axis=1), rtol=0.03, atol=40)
    totals = {t for _, t in calls}
    assert totals == {4160 * 25} and calls[-1][0] == 4160 * 25
    assert [d for d, _ in calls] == sorted(d for d, _ in calls) or data.retries  # restarts


def test_a_chunk_that_never_comes_clean_fails_with_its_name(tmp_path):
    spec = write_spec(tmp_path, "link_bit_error_rate = 1e-4\n")
    api, _ = measurement(f"sim://roc?seed=3&defects={spec}")
    api.retries = 1
    with pytest.raises(DataError, match=r"no clean data after 2 attempts .*: vcal 0\.\.\d+"):
        api.dac_scan("vcal", 0, 20, 2, step=4)


def test_a_tbm_that_stops_passing_the_token_is_power_cycled_and_the_chunk_repeated(tmp_path):
    spec = write_spec(tmp_path, "tbm_seu_rate = 3e-4\n")
    pixels = np.array([[c, 5] for c in range(0, 40, 2)])
    for seed in range(10):  # find a module whose TBM is hit during the scan
        api, sim = measurement(f"sim://module?seed={seed}&defects={spec}")
        api.chunk_triggers = 2000
        api.retries = 4
        data = api.dac_scan("vcal", 100, 119, 5, pixels=pixels)
        if any("power cycled" in p for p in data.retry_problems):
            break
    else:
        pytest.fail("no TBM SEU in 10 modules")
    assert all("without token pass" in p for p in data.retry_problems)
    assert decoder_summary(data)["power_cycles"] >= 1
    assert (data.hits >= 4).mean() > 0.99  # full efficiency at Vcal 100 again
    assert sim.power.on  # the module is powered again after the cycle


def test_a_roc_that_stops_answering_is_named():
    api, sim = measurement("sim://module?seed=3&defects=none")
    api.retries = 0
    sim.rocs.seu[7] = True  # ROC 7 stops sending data; nothing reprograms it before the scan
    with pytest.raises(DataError, match=r"after 1 attempts: .*no hits at all from ROC ") as err:
        api.efficiency_map(2, pixels=np.array([[5, 5], [6, 6]]))
    # a missing ROC header drops the events of its whole token chain: the chain is named
    named = str(err.value).rsplit("ROC ", 1)[1].rstrip(")").split(", ")
    assert "7" in named and len(named) < 16
