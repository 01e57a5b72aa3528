import numpy as np
import pandas as pd
import pytest

import streamrough as sr

torch = pytest.importorskip("torch")
pytest.importorskip("safetensors")
import models  # noqa: E402

NUMERIC = ["level1", "level2", "norm", "level1_power", "level2_power"]
P = [1.0, 2.5]


def _in_memory_table(state_dict, roles):
    """Reference: rough_pvar of the stacked tensors, straight from the model."""
    rows = []
    for role in roles:
        names = sorted((n for n in state_dict if _role(n) == role), key=_index)
        weights = np.stack([state_dict[n].detach().numpy() for n in names])
        for r in sr.rough_pvar(weights, P, convention="increments"):
            rows.append({"role": role, "p": r.p, **{k: getattr(r, k) for k in NUMERIC}})
    return pd.DataFrame(rows)


def _role(name):
    parts = name.split(".")
    i = next((i for i, s in enumerate(parts) if s.isdigit()), None)
    return None if i is None else ".".join(parts[:i] + ["{k}"] + parts[i + 1 :])


def _index(name):
    return next(int(s) for s in name.split(".") if s.isdigit())


def _check_same_numbers(table, state_dict):
    roles = sorted(table["role"].unique())
    expected = _in_memory_table(state_dict, roles).sort_values(["role", "p"]).reset_index(drop=True)
    got = table.sort_values(["role", "p"]).reset_index(drop=True)
    np.testing.assert_allclose(got[NUMERIC].to_numpy(float), expected[NUMERIC].to_numpy(float), rtol=1e-12, atol=0)


def test_resnet_module_and_checkpoint_file(tmp_path):
    model = models.ResNet(n_blocks=4)
    state = model.state_dict()
    torch.save(state, tmp_path / "model.pt")
    plan = sr.ingest(tmp_path / "model.pt", tmp_path / "store")
    assert plan.roles == models.RESNET_ROLES
    store = sr.open_store(tmp_path / "store")
    info = store.info("blocks.{k}.fc1.weight")
    assert info.n_layers == 4 and info.dtype == "float32" and info.source.endswith("model.pt")
    assert len(info.source_sha256) == 64
    np.testing.assert_array_equal(store.read("blocks.{k}.fc2.bias"), np.stack([b.fc2.bias.detach().numpy() for b in model.blocks]))
    table = sr.analyze(tmp_path / "store", p=P)
    assert len(table) == 4 * len(P) and set(table["n_layers"]) == {4}
    _check_same_numbers(table, state)
    direct = sr.analyze(model, p=P)  # the live module, in memory
    pd.testing.assert_frame_equal(
        direct[["role", "p", *NUMERIC]].sort_values(["role", "p"]).reset_index(drop=True),
        table[["role", "p", *NUMERIC]].sort_values(["role", "p"]).reset_index(drop=True),
    )


def test_transformer_encoder_state_dict():
    state = models.transformer_encoder(num_layers=3).state_dict()
    with sr.open_store("memory://test-transformer", mode="w") as store:
        plan = sr.ingest(state, store)
        assert plan.roles == models.TRANSFORMER_ROLES
        table = sr.analyze(store, p=P)
    assert set(table["n_layers"]) == {3} and len(table) == 12 * len(P)
    _check_same_numbers(table, state)


def test_sharded_gpt2_checkpoint(tmp_path):
    model = models.gpt2(n_layer=3, n_embd=16)
    model.save_pretrained(tmp_path / "gpt2", max_shard_size="20KB")
    plan = sr.ingest(tmp_path / "gpt2", tmp_path / "store", layers=r"re:transformer\.h\.(\d+)\.mlp\.c_fc\.weight$")
    assert plan.roles == ["transformer.h.{k}.mlp.c_fc.weight"]
    sr.ingest(tmp_path / "gpt2", tmp_path / "store", overwrite=True)
    store = sr.open_store(tmp_path / "store")
    assert sorted(store.paths()) == sorted(models.GPT2_ROLES)
    table = sr.analyze(tmp_path / "store", p=P)
    _check_same_numbers(table, model.state_dict())


def test_npz_and_npy_sources(tmp_path, rng):
    arrays = {f"blocks.{k}.W": rng.standard_normal((3, 2)) for k in range(5)}
    np.savez(tmp_path / "w.npz", emb=np.ones(2), **arrays)
    np.save(tmp_path / "w.npy", np.stack(list(arrays.values())))
    table_npz = sr.analyze(tmp_path / "w.npz", p=P)
    table_npy = sr.analyze(tmp_path / "w.npy", p=P)
    np.testing.assert_array_equal(table_npz[NUMERIC].to_numpy(), table_npy[NUMERIC].to_numpy())
    assert table_npy["role"].tolist() == ["layers.{k}"] * 2
    sr.ingest(tmp_path / "w.npz", "memory://test-npz", overwrite=True)
    np.testing.assert_array_equal(sr.open_store("memory://test-npz").read("blocks.{k}.W"), np.stack(list(arrays.values())))


def test_safetensors_file_is_read_without_torch(tmp_path, rng):
    from safetensors.numpy import save_file

    arrays = {f"h.{k}.w": rng.standard_normal((4,)).astype(np.float32) for k in range(3)}
    save_file(arrays, tmp_path / "m.safetensors")
    code = (
        "import sys, streamrough as sr; "
        f"sr.ingest({str(tmp_path / 'm.safetensors')!r}, {str(tmp_path / 'store')!r}); "
        "print('torch' in sys.modules)"
    )
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    np.testing.assert_array_equal(sr.open_store(tmp_path / "store").read("h.{k}.w"), np.stack(list(arrays.values())))


def test_bfloat16_becomes_float32_exactly():
    state = {f"h.{k}.w": torch.randn(4).to(torch.bfloat16) for k in range(3)}
    with sr.open_store("memory://test-bf16", mode="w") as store:
        sr.ingest(state, store)
        out = store.read("h.{k}.w")
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, np.stack([t.float().numpy() for t in state.values()]))


def test_training_run_checkpoints_and_recorder(tmp_path):
    torch.manual_seed(0)
    model = models.ResNet(n_blocks=3, width=4)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(16, 3), torch.randn(16, 2)
    saved = {}
    with sr.open_store(tmp_path / "store", mode="w") as store:
        recorder = sr.WeightRecorder(model, store, every=2, layers=r"re:blocks\.(\d+)\.fc1\.weight$", run="train")
        handle = recorder.attach(opt)
        for step in range(1, 7):
            opt.zero_grad()
            torch.nn.functional.mse_loss(model(x), y).backward()
            opt.step()
            if step % 2 == 0:
                saved[step] = {k: v.clone() for k, v in model.state_dict().items()}
                torch.save(saved[step], tmp_path / f"ckpt{step}.pt")
        handle.remove()
        for step in saved:  # the saved checkpoint files, ingested as a second run
            sr.ingest(tmp_path / f"ckpt{step}.pt", store, run="files", step=step, layers=r"re:blocks\.(\d+)\.fc1\.weight$")
        assert store.steps("train") == [2, 4, 6] and store.steps("files") == [2, 4, 6]
        steps, layer = store.layer_across_checkpoints("blocks.{k}.fc1.weight", 1, run="train")
        np.testing.assert_array_equal(layer, np.stack([saved[s]["blocks.1.fc1.weight"].numpy() for s in steps]))
        table = sr.analyze(store, p=P)
    a = table[table.run == "train"][NUMERIC].to_numpy()
    b = table[table.run == "files"][NUMERIC].to_numpy()
    np.testing.assert_array_equal(a, b)
    assert len(set(a[::2, 0])) == 3  # p = 1 rows: the weights moved between checkpoints
    cube = sr.to_xarray(table[table.run == "train"])
    assert dict(cube.sizes) == {"checkpoint": 3, "role": 1, "p": 2}
    assert cube["step"].values.tolist() == [2, 4, 6]


def test_bfloat16_safetensors_without_torch_conversion(tmp_path):
    from safetensors.torch import save_file

    state = {f"h.{k}.w": torch.randn(3, 5).to(torch.bfloat16) for k in range(3)}
    state["h.0.b"] = torch.randn(4, dtype=torch.float64)
    save_file(state, tmp_path / "bf16.safetensors")
    from streamrough.sources import open_source

    src = open_source(tmp_path / "bf16.safetensors")
    np.testing.assert_array_equal(src.read("h.1.w"), state["h.1.w"].float().numpy())
    assert src.read("h.0.b").dtype == np.float64
    np.testing.assert_array_equal(src.read("h.0.b"), state["h.0.b"].numpy())


def test_ingest_threads_write_the_same_store(tmp_path, rng):
    from safetensors.numpy import save_file

    arrays = {}
    for k in range(4):  # one-layer chunks (background writes) and a multi-layer chunk (bias)
        arrays[f"h.{k}.mlp.weight"] = rng.standard_normal((300, 300)).astype(np.float32)
        arrays[f"h.{k}.mlp.bias"] = rng.standard_normal(300).astype(np.float32)
    save_file(arrays, tmp_path / "m.safetensors")
    infos = {}
    for n_jobs in (1, 2, None):
        url = tmp_path / f"store-{n_jobs}"
        sr.ingest(tmp_path / "m.safetensors", url, n_jobs=n_jobs, hash_source=False)
        store = sr.open_store(url)
        infos[n_jobs] = [(store.info(r).content_hash, store.info(r).layer_names) for r in store.paths()]
        for role in store.paths():
            names = [n for n in arrays if n.startswith("h.") and n.endswith(role.split("}")[1])]
            np.testing.assert_array_equal(store.read(role), np.stack([arrays[n] for n in names]))
    assert infos[1] == infos[2] == infos[None]
    with pytest.raises(ValueError, match="n_jobs"):
        sr.ingest(tmp_path / "m.safetensors", tmp_path / "bad", n_jobs=0)


@pytest.mark.parametrize("advice", ["default", "unknown to the kernel", "none"])
def test_safetensors_pages_mapped_before_reading_or_not(tmp_path, rng, advice):
    from safetensors.numpy import load_file, save_file

    from streamrough.sources import SafetensorsSource

    arrays = {f"h.{k}.w": rng.standard_normal((300, 7 + k)).astype(np.float32) for k in range(3)}
    save_file(arrays, tmp_path / "m.safetensors")
    source = SafetensorsSource(tmp_path / "m.safetensors")
    if advice != "default":
        source._populate = 12345 if advice == "unknown to the kernel" else None
    for name, expected in load_file(tmp_path / "m.safetensors").items():
        np.testing.assert_array_equal(source.read(name), expected)
    if advice == "unknown to the kernel":
        assert source._populate is None  # the error turned the advice off; reads went on
