"""The store on a real S3-compatible server (moto in server mode on localhost), through s3fs."""

import socket

import numpy as np
import pytest

import streamrough as sr
from streamrough.store import StoreLockedError

pytest.importorskip("s3fs")
moto_server = pytest.importorskip("moto.server")
boto3 = pytest.importorskip("boto3")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3():
    port = _free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        client = boto3.client(
            "s3", endpoint_url=endpoint, region_name="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )
        client.create_bucket(Bucket="weights")
        yield {
            "key": "testing", "secret": "testing",
            "client_kwargs": {"endpoint_url": endpoint, "region_name": "us-east-1"},
        }
    finally:
        server.stop()


def test_ingest_read_analyze_on_s3(s3, rng):
    url = "s3://weights/run1"
    arrays = {f"blocks.{k}.W": rng.standard_normal((3, 2)).astype(np.float32) for k in range(4)}
    with sr.open_store(url, mode="w", storage_options=s3) as store:
        sr.ingest(arrays, store)
        with pytest.raises(StoreLockedError, match="locked by another writer"):
            sr.open_store(url, mode="a", storage_options=s3)
    store = sr.open_store(url, storage_options=s3)
    np.testing.assert_array_equal(store.read("blocks.{k}.W"), np.stack(list(arrays.values())))
    remote = sr.analyze(url, p=[2.5], storage_options=s3)
    local = sr.analyze(arrays, p=[2.5])
    assert remote["level1"].tolist() == local["level1"].tolist()
    with sr.open_store(url, mode="r+", storage_options=s3) as store:  # the lock was released
        store.writer("blocks.{k}.W").append(np.zeros((3, 2), np.float32))
        assert store.info("blocks.{k}.W").n_layers == 5
