#!/usr/bin/env bash
# Tear down a cfgen stack: stop its jobs, delete the stack, wait.
#
#   scripts/destroy.sh --stack-name NAME [--delete-data-bucket] [--timeout SECONDS]
#
#   --stack-name NAME     the stack to delete (required: no default for this one)
#   --delete-data-bucket  also delete the stack's data bucket (output
#                         DataBucketName) and every object version in it. Without
#                         it the bucket is kept (DeletionPolicy Retain) and reported.
#   --timeout SECONDS     give up waiting for the deletion after this long (default 3600)
#
# Steps:
#   1. TerminateJob on every SUBMITTED, PENDING, RUNNABLE, STARTING or RUNNING job
#      in the stack's own job queues (the AWS::Batch::JobQueue resources of the
#      stack). TerminateJob, not CancelJob: CancelJob does nothing to jobs that
#      are already STARTING or RUNNING.
#   2. DeleteStack, streaming the stack events until DELETE_COMPLETE.
#   3. Report the retained data bucket, or empty and delete it if asked.
# Only resources of this stack are touched. Exit code: 0 deleted, 1 failed,
# 2 bad arguments.
#
# Environment: AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL, CFGEN_POLL_SECONDS.
set -euo pipefail

PROG=destroy.sh
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

stack=""
delete_bucket=0
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
    --delete-data-bucket)
        delete_bucket=1
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
[[ -n "$stack" ]] || usage_error "--stack-name: required (the stack to delete)"
check_stack_name "$stack"
require_aws_cli

if ! row="$(awscli cloudformation describe-stacks --stack-name "$stack" --output text \
    --query "Stacks[0].[StackStatus, StackId, Outputs[?OutputKey=='DataBucketName'].OutputValue | [0]]" 2>&1)"; then
    [[ "$row" == *"does not exist"* ]] && die "stack $stack does not exist"
    die "describe-stacks $stack failed: $(cli_error "$row")"
fi
IFS=$'\t' read -r status stack_id bucket <<<"$(tail -n 1 <<<"$row")"
[[ "$bucket" == "None" ]] && bucket=""

# What the stack created: its job queues and its data bucket.
queues=()
buckets=()
while IFS=$'\t' read -r type physical; do
    case "$type" in
    AWS::Batch::JobQueue) queues+=("$physical") ;;
    AWS::S3::Bucket) buckets+=("$physical") ;;
    esac
done < <(awscli cloudformation describe-stack-resources --stack-name "$stack_id" \
    --query 'StackResources[].[ResourceType,PhysicalResourceId]' --output text)

if [[ -n "$bucket" ]]; then
    found=0
    for b in "${buckets[@]}"; do [[ "$b" == "$bucket" ]] && found=1; done
    ((found)) || die "output DataBucketName ($bucket) is not a bucket of stack $stack: refusing to touch it"
fi

# 1. Stop the stack's jobs. One ListJobs per queue and status, run in parallel.
jobs_dir="$(mktemp -d)"
trap 'rm -rf "$jobs_dir"' EXIT
active_states=(SUBMITTED PENDING RUNNABLE STARTING RUNNING)
for q in "${!queues[@]}"; do
    for job_status in "${active_states[@]}"; do
        awscli batch list-jobs --job-queue "${queues[q]}" --job-status "$job_status" \
            --query 'jobSummaryList[].jobId' --output text >"$jobs_dir/$q.$job_status" 2>&1 &
    done
done
wait
# TerminateJob, at most 8 calls at a time.
terminated=0
declare -a pids=() pid_jobs=()
finish_batch() {
    local i
    for i in "${!pids[@]}"; do
        wait "${pids[i]}" || die "terminate-job ${pid_jobs[i]} failed"
    done
    pids=()
    pid_jobs=()
}
for q in "${!queues[@]}"; do
    for job_status in "${active_states[@]}"; do
        listed="$(cat "$jobs_dir/$q.$job_status")"
        [[ "$listed" != *"An error occurred"* ]] ||
            die "list-jobs ${queues[q]} $job_status failed: $(cli_error "$listed")"
        for job_id in $listed; do
            [[ "$job_id" == "None" ]] && continue
            # Array children ("<parent>:<index>") stop with their parent.
            [[ "$job_id" == *:* ]] && continue
            awscli batch terminate-job --job-id "$job_id" \
                --reason "destroy.sh: stack $stack is being deleted" >/dev/null &
            pids+=($!)
            pid_jobs+=("$job_id")
            log "terminating $job_status job $job_id"
            terminated=$((terminated + 1))
            ((${#pids[@]} < 8)) || finish_batch
        done
    done
done
finish_batch
log "terminated $terminated job(s) in ${#queues[@]} job queue(s) of $stack"

# 2. Delete the stack and wait.
last_event="$(newest_event_id "$stack_id")"
if [[ "$status" != DELETE_IN_PROGRESS ]]; then
    log "deleting stack $stack"
    if ! out="$(awscli cloudformation delete-stack --stack-name "$stack_id" 2>&1)"; then
        die "delete-stack failed: $(cli_error "$out")"
    fi
fi
wait_for_stack "$stack_id" "$last_event" "$timeout" listed_stack_status
final=$STACK_FINAL_STATUS
case "$final" in
DELETE_COMPLETE | "") log "stack $stack: DELETE_COMPLETE" ;;
DELETE_IN_PROGRESS) die "stack $stack still DELETE_IN_PROGRESS after ${timeout}s" ;;
*)
    log "stack $stack: $final"
    report_failures "$stack_id"
    exit 1
    ;;
esac

# 3. The retained data bucket.
[[ -n "$bucket" ]] || exit 0
if ! awscli s3api head-bucket --bucket "$bucket" >/dev/null 2>&1; then
    log "data bucket $bucket is already gone"
    exit 0
fi
if ((delete_bucket == 0)); then
    printf 'retained data bucket: %s\n' "$bucket"
    log "the data bucket $bucket was kept (DeletionPolicy Retain); run with --delete-data-bucket to delete it and all its object versions"
    exit 0
fi
delete_json="$jobs_dir/delete.json"
removed=0
# JMESPath literals use backticks: the single quotes are deliberate.
# shellcheck disable=SC2016
while :; do
    awscli s3api list-object-versions --bucket "$bucket" --max-items 500 --output json \
        --query '{Objects: [Versions[].{Key: Key, VersionId: VersionId}, DeleteMarkers[].{Key: Key, VersionId: VersionId}][][], Quiet: `true`}' \
        >"$delete_json"
    count="$(grep -c '"VersionId"' "$delete_json" || true)"
    ((count > 0)) || break
    errors="$(awscli s3api delete-objects --bucket "$bucket" --delete "file://$delete_json" \
        --query 'length(Errors || `[]`)' --output text)"
    [[ "$errors" == 0 ]] || die "could not delete $errors object version(s) in $bucket"
    removed=$((removed + count))
done
awscli s3api delete-bucket --bucket "$bucket"
printf 'deleted data bucket: %s (%d object versions)\n' "$bucket" "$removed"
