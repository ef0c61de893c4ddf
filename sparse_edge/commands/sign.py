"""``sparse-edge sign``: sign exported .tflite files, or make the key pair to sign them with."""

from __future__ import annotations

import json

import click

from sparse_edge.commands.common import usage


@click.command("sign")
@click.argument("models", nargs=-1, type=click.Path(dir_okay=False))
@click.option("--key", "private_key", type=click.Path(dir_okay=False),
              help="The private key (PEM, elliptic curve) to sign MODELS with.")
@click.option("--new-key", "new_key", type=click.Path(file_okay=False),
              help="Make a new key pair in this folder (private.pem, public.pem) and sign nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
def sign(models, private_key, new_key, as_json):
    """Sign MODELS (bundled .tflite files) so that a device can check who made them.

    Each MODEL gets MODEL.sig beside it, in the OpenSSF model-signing format (a Sigstore bundle,
    signed offline with an elliptic-curve key). Devices then run a file only when its signature
    matches their pinned public key: `python -m edge_runtime MODEL --public-key public.pem`,
    `sparse-edge serve MODEL --public-key public.pem`, or SPARSE_EDGE_PUBLIC_KEY. The file's own
    SHA256SUMS catch a damaged copy; only a signature catches a changed one. Needs
    `pip install "sparse-edge[edge-verify]"`.

    \b
      sparse-edge sign --new-key keys/
      sparse-edge sign artifacts/imdb-classifier/tflite/int8.tflite --key keys/private.pem
    """
    from edge_runtime.bundle import BundleError
    from edge_runtime.signature import new_key_pair, sign as sign_file

    try:
        if new_key:
            if models or private_key:
                usage("--new-key makes a key pair and signs nothing; sign with --key in a second command")
            private, public = new_key_pair(new_key)
            written = {"private_key": str(private), "public_key": str(public)}
            message = f"wrote {private} (keep it secret, off the device) and {public} (copy it to the device)"
        else:
            if not models or not private_key:
                usage("give the .tflite files to sign and --key PRIVATE.pem (or --new-key DIR to make a key pair)")
            written = {"signatures": [str(sign_file(model, private_key)) for model in models]}
            message = "\n".join(f"signed {model}: {path}" for model, path in zip(models, written["signatures"]))
    except BundleError as error:
        raise click.UsageError(str(error)) from None
    click.echo(json.dumps(written) if as_json else message)
