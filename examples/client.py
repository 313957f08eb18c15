"""Make an avatar from a script: a photo of you, a pose (or a motion) found by search, and the result saved to a file.

    python examples/client.py --url http://127.0.0.1:7860/ --photo me.jpg --pose "hands on hips" --out me.jpg
    python examples/client.py --url someone/avatargen --token hf_… --photo me.jpg --pose "sitting on steps"
    python examples/client.py --url http://127.0.0.1:7860/ --photo me.jpg --motion "turn around" --out me.mp4

`--url` is a local address or a Space id. On a Space, sign in with a Hugging Face token (`--token`, or the HF_TOKEN
environment variable); on an app with password accounts use `--user` and `--password`. Prints a progress line while
the image is made; exits with status 1 and the server's message when something is refused or fails.

The request carries a `request_id` chosen here: when the connection drops before the answer arrives, the script
sends the same request again, and the app answers the first one's result instead of charging twice.
"""

import argparse
import os
import shutil
import sys
import time
import uuid

import httpx
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="app address (http://…) or Space id (owner/name)")
    parser.add_argument("--photo", required=True, help="a photo of you, face clearly visible")
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--pose", help='pose search, e.g. "hands on hips": an image')
    what.add_argument("--motion", help='motion search, e.g. "turn around": a 2-second video (MP4)')
    parser.add_argument("--frames", type=int, default=16, help="video frames at 8 per second (8 to 32)")
    parser.add_argument("--out", help="where to save the result (default avatar.jpg, or avatar.mp4 for a motion)")
    parser.add_argument("--quality", choices=["sd", "hd"], default="sd")
    parser.add_argument("--style", default="realistic")
    parser.add_argument("--priority", action="store_true", help="jump the queue (+3 credits)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--token", default=os.environ.get("HF_TOKEN"), help="Hugging Face token (Spaces)")
    parser.add_argument("--user", help="account name (password sign-in)")
    parser.add_argument("--password", default=os.environ.get("AVATARGEN_PASSWORD"))
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait for the image")
    args = parser.parse_args()

    try:
        auth = (args.user, args.password) if args.user else None
        client = Client(args.url, token=args.token, auth=auth, verbose=False)
        options = (args.quality, args.priority, args.style, args.seed)
        job = start_video(client, args, options) if args.motion else start_image(client, args, options)
        record = wait(client, job["id"], args.timeout)
        if record["status"] != "completed":
            raise AppError(record["errorMessage"] or "The generation failed.")
        args.out = args.out or ("avatar.mp4" if args.motion else "avatar.jpg")
        shutil.copyfile(client.predict(job["id"], api_name="/download_output"), args.out)
    except AppError as error:
        print(f"\nerror: {error}", file=sys.stderr)
        return 1
    print(f"\nSaved {args.out} (seed {record['seed']}, {record['creditUsed']} credits).")
    return 0


RETRIES = 3  # sends of one request when the connection drops before its answer


def start_image(client: Client, args: argparse.Namespace, options: tuple) -> dict:
    poses = client.predict(search=args.pose, limit=1, api_name="/poses")["data"]
    if not poses:
        raise AppError(f"No pose matches {args.pose!r}; try other words.")
    pose = poses[0]
    price = client.predict(args.quality, args.priority, api_name="/price")["data"]["credits"]
    print(f"Pose: {pose['name']} ({pose['id']}), {args.quality.upper()}, {price} credits")
    more = (None, False, None)  # more photos, mirror, webhook URL
    return resent(lambda request_id: client.predict(
        handle_file(args.photo), pose["id"], *options, *more, request_id, api_name="/generate"
    )["data"])  # fmt: skip


def start_video(client: Client, args: argparse.Namespace, options: tuple) -> dict:
    motions = client.predict(search=args.motion, limit=1, api_name="/motions")["data"]
    if not motions:
        raise AppError(f"No motion matches {args.motion!r}; try other words.")
    motion = motions[0]
    price = client.predict(args.quality, args.priority, args.frames, api_name="/video_price")["data"]["credits"]
    print(f"Motion: {motion['name']} ({motion['id']}), {args.frames} frames, {args.quality.upper()}, {price} credits")
    photo = handle_file(args.photo)
    more = (None, False, args.frames)  # more photos, mirror, frames
    return client.predict(photo, motion["id"], *options, *more, api_name="/generate_video")["data"]


def resent(send) -> dict:
    """Send a generation with a fresh request id; a dropped connection is retried with the same id, so it is
    charged once."""
    request_id = uuid.uuid4().hex
    attempt = 1
    while True:
        try:
            return send(request_id)
        except (httpx.TransportError, ConnectionError) as error:
            if attempt == RETRIES:
                raise AppError(f"The app could not be reached ({error}); nothing more was charged.") from None
            print(f"connection lost ({type(error).__name__}); sending the same request again", file=sys.stderr)
            time.sleep(attempt)
            attempt += 1


def wait(client: Client, generation_id: str, timeout: float) -> dict:
    """Poll the generation, printing one progress line that updates in place."""
    deadline = time.monotonic() + timeout
    while True:
        record = client.predict(generation_id, api_name="/generation")["data"]
        done = int(record["progress"] * 20)
        print(f"\r{record['status']:<10} [{'#' * done}{'.' * (20 - done)}]", end="", flush=True)
        if record["status"] in ("completed", "failed"):
            return record
        if time.monotonic() > deadline:
            raise AppError(f"Still {record['status']} after {timeout:.0f} s; it keeps going on the server.")
        time.sleep(1)


if __name__ == "__main__":
    sys.exit(main())
