#!/usr/bin/env bash
# Submit a job (or an array job) to a cfgen stack's queue and job definition.
#
#   scripts/submit-job.sh [--stack-name NAME] [--job-name NAME] [--array-size N]
#                         [--env NAME=VALUE]... [--wait] [--timeout SECONDS]
#                         [--share-id ID] [--priority N] [--escalate]
#
#   --stack-name NAME  the stack (default: $CFGEN_STACK_NAME or "batch"); its
#                      outputs JobQueueArn and JobDefinitionArn are used
#   --job-name NAME    default: cfgen-<UTC timestamp>
#   --array-size N     submit an array job of N children (2-10000); the job also
#                      gets CFGEN_ARRAY_SIZE=N (Batch itself does not tell a child
#                      the array size)
#   --env NAME=VALUE   extra environment variable for the container (repeatable)
#   --wait             follow the job: print each status transition (and the
#                      array children's counts) until it ends
#   --timeout SECONDS  with --wait: give up after this long (default 86400)
#   --share-id ID      share identifier (letters and digits, at most 255): needed
#                      on a fair-share queue, rejected by a FIFO one
#   --priority N       scheduling priority within the share, 0-9999 (overrides
#                      the job definition's SchedulingPriority)
#   --escalate         start the stack's EscalationStateMachine instead: the job
#                      runs on Spot and, if reclaims end it, again On-Demand
#                      (docs/scheduling.md); prints the execution ARN; not with
#                      --array-size, --wait or --priority
#
# Prints the job id on stdout; with --wait also a final line
# "<job id> SUCCEEDED" or "<job id> FAILED: <reason>". Exit code: 0 submitted /
# succeeded, 1 failed, timed out or could not submit, 2 bad arguments.
#
# Environment: AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL, CFGEN_POLL_SECONDS.
set -euo pipefail

PROG=submit-job.sh
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

stack="${CFGEN_STACK_NAME:-batch}"
job_name="cfgen-$(date -u +%Y%m%d-%H%M%S)"
share_id=""
priority=""
escalate=0
array_size=""
wait=0
timeout=86400
declare -a env_names=()
declare -A env=()

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
    --job-name)
        need_value "$1" $#
        job_name=$2
        shift 2
        ;;
    --array-size)
        need_value "$1" $#
        check_int_range --array-size "$2" 2 10000
        array_size=$((10#$2))
        shift 2
        ;;
    --env)
        need_value "$1" $#
        [[ "$2" == *=* ]] || usage_error "--env: '$2' is not NAME=VALUE"
        name="${2%%=*}"
        [[ "$name" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] ||
            usage_error "--env: '$name' is not an environment variable name ([A-Za-z_][A-Za-z0-9_]*)"
        [[ "$name" != AWS_BATCH_* ]] || usage_error "--env: '$name' is reserved by AWS Batch"
        [[ -n "${env[$name]+x}" ]] || env_names+=("$name")
        env[$name]="${2#*=}"
        shift 2
        ;;
    --wait)
        wait=1
        shift
        ;;
    --timeout)
        need_value "$1" $#
        check_int_range --timeout "$2" 1 1209600
        timeout=$2
        shift 2
        ;;
    --share-id)
        (($# >= 2)) || usage_error "--share-id needs a value"
        [[ "$2" =~ ^[A-Za-z0-9]{1,255}$ ]] ||
            usage_error "--share-id: '$2' is not a share identifier (letters and digits, at most 255)"
        share_id=$2
        shift 2
        ;;
    --priority)
        (($# >= 2)) || usage_error "--priority needs a value"
        check_int_range --priority "$2" 0 9999
        priority=$2
        shift 2
        ;;
    --escalate)
        escalate=1
        shift
        ;;
    -*) usage_error "unknown option '$1' (see --help)" ;;
    *) usage_error "unexpected argument '$1' (see --help)" ;;
    esac
done

check_stack_name "$stack"
[[ "$job_name" =~ ^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$ ]] ||
    usage_error "--job-name: '$job_name' is not a job name (letters, digits, - and _, at most 128)"
if [[ -n "$array_size" && -z "${env[CFGEN_ARRAY_SIZE]+x}" ]]; then
    env_names+=(CFGEN_ARRAY_SIZE)
    env[CFGEN_ARRAY_SIZE]=$array_size
fi
if ((escalate)); then
    [[ -z "$array_size" ]] || usage_error "--escalate: not with --array-size (one job per execution)"
    ((!wait)) || usage_error "--escalate: not with --wait (follow the execution in Step Functions)"
    [[ -z "$priority" ]] || usage_error "--escalate: not with --priority (the job definition's applies)"
    ((${#job_name} <= 80)) || usage_error "--job-name: '$job_name' is longer than 80, the limit of an execution name"
fi
require_aws_cli

if ((escalate)); then
    machine="$(stack_outputs "$stack" EscalationStateMachineArn)"
    input="{\"jobName\": $(json_string "$job_name"), \"containerOverrides\": {\"Environment\": ["
    sep=""
    for name in "${env_names[@]}"; do
        input+="$sep{\"Name\": $(json_string "$name"), \"Value\": $(json_string "${env[$name]}")}"
        sep=", "
    done
    input+="]}"
    [[ -z "$share_id" ]] || input+=", \"shareIdentifier\": $(json_string "$share_id")"
    input+="}"
    if ! execution="$(awscli stepfunctions start-execution --state-machine-arn "$machine" \
        --name "$job_name" --input "$input" --query executionArn --output text 2>&1)"; then
        die "start-execution failed: $(cli_error "$execution")"
    fi
    execution="$(printf '%s' "$execution" | tail -n 1)"
    log "started escalating execution $job_name (Spot, then On-Demand on reclaims)"
    printf '%s\n' "$execution"
    exit 0
fi

outputs="$(stack_outputs "$stack" JobQueueArn JobDefinitionArn)"
queue="$(sed -n 1p <<<"$outputs")"
definition="$(sed -n 2p <<<"$outputs")"

declare -a cmd=(batch submit-job --job-name "$job_name" --job-queue "$queue"
    --job-definition "$definition" --query jobId --output text)
if [[ -n "$array_size" ]]; then
    cmd+=(--array-properties "size=$array_size")
fi
[[ -z "$share_id" ]] || cmd+=(--share-identifier "$share_id")
[[ -z "$priority" ]] || cmd+=(--scheduling-priority-override "$priority")
if ((${#env_names[@]})); then
    overrides='{"environment": ['
    sep=""
    for name in "${env_names[@]}"; do
        overrides+="$sep{\"name\": $(json_string "$name"), \"value\": $(json_string "${env[$name]}")}"
        sep=", "
    done
    overrides+=']}'
    cmd+=(--container-overrides "$overrides")
fi

if ! job_id="$(awscli "${cmd[@]}" 2>&1)"; then
    die "submit-job failed: $(cli_error "$job_id")"
fi
job_id="$(printf '%s' "$job_id" | tail -n 1)"
log "submitted ${array_size:+array job of $array_size, }$job_name to $queue"
printf '%s\n' "$job_id"
((wait)) || exit 0

# --- follow the job ------------------------------------------------------------
poll="$(poll_seconds)"
start=$SECONDS
last=""
last_summary=""
while :; do
    row="$(awscli batch describe-jobs --jobs "$job_id" --output text --query \
        'jobs[0].[status, statusReason, arrayProperties.statusSummary.[SUBMITTED, PENDING, RUNNABLE, STARTING, RUNNING, SUCCEEDED, FAILED]]')" ||
        die "describe-jobs $job_id failed"
    # text output: status, reason on the first line; the array counts (if any) on the next.
    IFS=$'\t' read -r status reason _ <<<"$(head -n 1 <<<"$row")"
    [[ "$reason" == "None" ]] && reason=""
    if [[ "$status" != "$last" ]]; then
        log "$(date -u +%H:%M:%S)  $job_id  $status${reason:+  ($reason)}"
        last=$status
    fi
    if [[ -n "$array_size" ]]; then
        summary="$(sed -n 2p <<<"$row" | awk '{printf "submitted=%s pending=%s runnable=%s starting=%s running=%s succeeded=%s failed=%s", $1,$2,$3,$4,$5,$6,$7}')"
        if [[ "$summary" != "$last_summary" ]]; then
            log "$(date -u +%H:%M:%S)  children: $summary"
            last_summary=$summary
        fi
    fi
    case "$status" in
    SUCCEEDED)
        printf '%s SUCCEEDED\n' "$job_id"
        exit 0
        ;;
    FAILED)
        printf '%s FAILED: %s\n' "$job_id" "${reason:-no reason given}"
        exit 1
        ;;
    esac
    if ((SECONDS - start >= timeout)); then
        die "job $job_id still $status after ${timeout}s"
    fi
    sleep "$poll"
done
