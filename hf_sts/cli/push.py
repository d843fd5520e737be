"""`hf-sts push OUTPUT_DIR --repo-id ORG/NAME [--private] [--revision BRANCH] [--space [ORG/SPACE]] [--dry-run]`:
upload a finished run to the Hugging Face Hub, optionally with a Gradio Space (see `hf_sts.hub`,
`hf_sts.tools.space`)."""

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("output_dir", help="output_dir of a finished hf_sts run")
    parser.add_argument("--repo-id", "--repo_id", dest="repo_id", required=True, help="ORG/NAME on the Hub")
    parser.add_argument("--private", action="store_true", default=None, help="create the repository private")
    parser.add_argument("--revision", help="branch to push to (created if missing)")
    parser.add_argument(
        "--dry-run", "--dry_run", dest="dry_run", action="store_true", help="list the files, no upload"
    )
    parser.add_argument(
        "--space",
        nargs="?",
        const="",
        metavar="ORG/SPACE",
        help="also write OUTPUT_DIR/space/ and push it as a Gradio Space showing the model (default: REPO-ID-demo)",
    )


def run(args: argparse.Namespace) -> None:
    from hf_sts.hub import MANIFEST_NAME, push, write_manifest
    from hf_sts.tools.space import SPACE_MANIFEST_NAME, check_space, push_space, space_repo_id, write_space

    space_id = None if args.space is None else space_repo_id(args.repo_id, args.space)
    if space_id is not None:
        check_space(args.output_dir)  # before the model's manifest is written
    if args.dry_run:
        manifest = write_manifest(args.output_dir, args.repo_id)
        for entry in manifest["files"]:
            print(f"{entry['size']:>12,}  {entry['path']}")
        print(f"{manifest['total_size']:>12,}  bytes to {args.repo_id} (dry run; listed in {MANIFEST_NAME})")
        if space_id is not None:
            space = write_space(args.output_dir, args.repo_id, space_id)
            for entry in space["files"]:
                print(f"{entry['size']:>12,}  space/{entry['path']}")
            print(
                f"{space['total_size']:>12,}  bytes to the Space {space_id} (dry run; written to "
                f"{space['folder']}, listed in {SPACE_MANIFEST_NAME})"
            )
        return
    if space_id is not None:  # checked and written before anything is uploaded
        write_space(args.output_dir, args.repo_id, space_id)
    print(f"Pushed {args.output_dir}: {push(args.output_dir, args.repo_id, args.private, args.revision)}")
    if space_id is not None:
        print(f"Pushed the Space {space_id}: {push_space(args.output_dir, space_id, args.private)}")
