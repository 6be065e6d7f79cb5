#!/usr/bin/env bash
# Build worker/, push it to the stack's ECR repository under an immutable tag,
# and point the stack's job definition at it (stack parameter ImageTag).
#
#   scripts/push-image.sh [--stack-name NAME] [--tag TAG] [--platform PLATFORM]
#                         [--context DIR] [--no-build] [--dry-run] [--timeout SECONDS]
#
#   --stack-name NAME  the stack (default: $CFGEN_STACK_NAME or "batch"); its output
#                      RepositoryUri is the repository
#   --tag TAG          image tag (default: computed from worker/'s content:
#                      git-<tree hash> when worker/ is committed and clean,
#                      src-<sha256 of its files> otherwise). The repository's tags
#                      are immutable: a tag is pushed once and never overwritten.
#   --platform P       docker build --platform (default: the stack's output
#                      ImagePlatform, linux/amd64 or linux/arm64, the architecture
#                      its instances or Fargate tasks run; linux/amd64 for a stack
#                      made before that output existed). Building for another
#                      architecture than the build host's needs BuildKit and QEMU
#                      emulation (binfmt_misc).
#   --context DIR      build context (default: worker/ of this repository)
#   --no-build         do not build or push: the image TAG must already be in the
#                      repository (e.g. pushed by CI); only update the stack
#   --dry-run          print the commands that would run (docker login, build,
#                      push, update-stack) and change nothing
#   --timeout SECONDS  give up waiting for the stack update after this long (default 3600)
#
# The stack update keeps the template and every other parameter
# (UsePreviousValue) and changes only ImageTag; it creates a new job definition
# revision. Needs a Docker engine unless --dry-run or --no-build.
# Exit code: 0 done, 1 failed, 2 bad arguments.
#
# Environment: AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL, CFGEN_POLL_SECONDS.
set -euo pipefail

PROG=push-image.sh
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
stack="${CFGEN_STACK_NAME:-batch}"
tag=""
platform=""
context="$root/worker"
build=1
dry_run=0
timeout=3600

while (($#)); do
    case "$1" in
    -h | --help)
        print_help
        exit 0
        ;;
    --stack-name)
        need_value "$1" $#
        stack=$2
        shift 2
        ;;
    --tag)
        need_value "$1" $#
        tag=$2
        shift 2
        ;;
    --platform)
        need_value "$1" $#
        platform=$2
        shift 2
        ;;
    --context)
        need_value "$1" $#
        context=$2
        shift 2
        ;;
    --no-build)
        build=0
        shift
        ;;
    --dry-run)
        dry_run=1
        shift
        ;;
    --timeout)
        need_value "$1" $#
        check_int_range --timeout "$2" 1 86400
        timeout=$2
        shift 2
        ;;
    -*) usage_error "unknown option '$1' (see --help)" ;;
    *) usage_error "unexpected argument '$1' (see --help)" ;;
    esac
done

check_stack_name "$stack"
if [[ -n "$tag" && ! "$tag" =~ ^[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,127}$ ]]; then
    usage_error "--tag: '$tag' is not a Docker tag (letters, digits, _ . -; at most 128; not starting with . or -)"
fi
PLATFORM_RE='^[a-z0-9]+/[a-z0-9]+(/[a-z0-9]+)?$'
[[ -z "$platform" || "$platform" =~ $PLATFORM_RE ]] ||
    usage_error "--platform: '$platform' is not a platform such as linux/amd64"
if ((build)); then
    [[ -d "$context" ]] || usage_error "--context: '$context' is not a directory"
    [[ -f "$context/Dockerfile" ]] || die "no Dockerfile in $context: nothing to build"
fi

# content_tag DIR: git-<tree> if DIR is committed and clean, else src-<digest of its files>.
content_tag() {
    local dir=$1 tree
    if git -C "$dir" rev-parse --is-inside-work-tree >/dev/null 2>&1 &&
        git -C "$dir" diff --quiet HEAD -- . 2>/dev/null &&
        [[ -z "$(git -C "$dir" ls-files --others --exclude-standard -- .)" ]] &&
        tree="$(git -C "$dir" rev-parse "HEAD:./" 2>/dev/null)"; then
        printf 'git-%s' "${tree:0:12}"
        return
    fi
    local digest
    if git -C "$dir" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        digest="$(cd "$dir" && git ls-files -z --cached --others --exclude-standard -- . |
            sort -z | xargs -0 -r sha256sum -- 2>/dev/null | sha256sum)"
    else
        digest="$(cd "$dir" && find . -type f ! -path '*/__pycache__/*' ! -path '*/.*' -print0 |
            sort -z | xargs -0 -r sha256sum -- | sha256sum)"
    fi
    printf 'src-%s' "${digest:0:12}"
}

if [[ -z "$tag" ]]; then
    ((build)) || usage_error "--tag: required with --no-build (which image in the repository to use)"
    tag="$(content_tag "$context")"
fi
require_aws_cli

uri="$(stack_output "$stack" RepositoryUri)"
# The stack's ImagePlatform output: the platform its jobs run on (an amd64 image
# on arm64 instances fails with "exec format error", which no retry fixes).
if ((build)); then
    stack_platform="$(awscli cloudformation describe-stacks --stack-name "$stack" \
        --query "Stacks[0].Outputs[?OutputKey=='ImagePlatform'].OutputValue | [0]" \
        --output text 2>/dev/null | tail -n 1)" || stack_platform=""
    [[ "$stack_platform" == None ]] && stack_platform=""
    if [[ -n "$stack_platform" && ! "$stack_platform" =~ $PLATFORM_RE ]]; then
        die "stack $stack: output ImagePlatform '$stack_platform' is not a platform such as linux/amd64"
    fi
    if [[ -z "$platform" ]]; then
        platform=${stack_platform:-linux/amd64}
        [[ -n "$stack_platform" ]] ||
            log "stack $stack has no ImagePlatform output (made by an older cfgen): building for $platform"
    elif [[ -n "$stack_platform" && "$platform" != "$stack_platform" ]]; then
        log "warning: building for $platform (--platform), but stack $stack runs $stack_platform"
    fi
fi
repo_name="${uri#*/}"
registry="${uri%%/*}"
image="$uri:$tag"

# show CMD...: print a command the way it would be typed.
show() {
    local arg out="+" q="'"
    for arg in "$@"; do
        if [[ "$arg" =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]]; then
            out+=" $arg"
        else
            out+=" '${arg//$q/$q\\$q$q}'"
        fi
    done
    printf '%s\n' "$out"
}

tag_exists=0
if awscli ecr describe-images --repository-name "$repo_name" --image-ids "imageTag=$tag" \
    >/dev/null 2>&1; then
    tag_exists=1
fi

region_args=()
[[ -n "${AWS_REGION:-}" ]] && region_args+=(--region "$AWS_REGION")
[[ -n "${AWS_ENDPOINT_URL:-}" ]] && region_args+=(--endpoint-url "$AWS_ENDPOINT_URL")

# --- build and push ------------------------------------------------------------
if ((build)); then
    if ((tag_exists)); then
        log "$image is already in the repository (tags are immutable): not building it again"
    elif ((dry_run)); then
        printf '+ aws %s ecr get-login-password | docker login --username AWS --password-stdin %s\n' \
            "${region_args[*]}" "$registry"
        show docker build --platform "$platform" --tag "$image" "$context"
        show docker push "$image"
    else
        command -v docker >/dev/null 2>&1 ||
            die "docker is not on PATH: install a Docker engine, or use --dry-run / --no-build"
        awscli ecr get-login-password |
            docker login --username AWS --password-stdin "$registry" >/dev/null ||
            die "docker login to $registry failed"
        log "building $image for $platform"
        docker build --platform "$platform" --tag "$image" "$context" ||
            die "docker build of $context for $platform failed (for another architecture than this host's, Docker needs BuildKit and QEMU emulation)"
        docker push "$image" || die "docker push of $image failed"
    fi
elif ((tag_exists == 0)); then
    die "image $image is not in the repository: push it first (or drop --no-build)"
fi

# --- point the stack at the new tag -------------------------------------------
params='[{"ParameterKey": "ImageTag", "ParameterValue": '"$(json_string "$tag")"'}'
for key in $(awscli cloudformation describe-stacks --stack-name "$stack" \
    --query 'Stacks[0].Parameters[].ParameterKey' --output text); do
    [[ "$key" == ImageTag ]] && continue
    params+=', {"ParameterKey": '"$(json_string "$key")"', "UsePreviousValue": true}'
done
params+=']'

if ((dry_run)); then
    show aws "${region_args[@]}" cloudformation update-stack --stack-name "$stack" \
        --use-previous-template --capabilities CAPABILITY_IAM --parameters "$params"
    log "dry run: nothing was built, pushed or changed"
    exit 0
fi

last_event="$(newest_event_id "$stack")"
log "updating stack $stack: ImageTag=$tag"
if ! out="$(awscli cloudformation update-stack --stack-name "$stack" --use-previous-template \
    --capabilities CAPABILITY_IAM --parameters "$params" --query StackId --output text 2>&1)"; then
    if [[ "$out" == *"No updates are to be performed"* ]]; then
        log "stack $stack already uses $tag"
        printf '%s\n' "$image"
        exit 0
    fi
    die "update-stack failed: $(cli_error "$out")"
fi
wait_for_stack "$stack" "$last_event" "$timeout"
case "$STACK_FINAL_STATUS" in
UPDATE_COMPLETE)
    log "stack $stack: UPDATE_COMPLETE; jobs now use $image"
    printf '%s\n' "$image"
    ;;
*)
    log "stack $stack: $STACK_FINAL_STATUS"
    report_failures "$stack"
    exit 1
    ;;
esac
