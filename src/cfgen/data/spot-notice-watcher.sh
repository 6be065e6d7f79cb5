#!/bin/bash
# cfgen-spot-notice-watcher: on an EC2 Spot interruption notice, SIGTERM each ECS
# task container once, so every Batch job, whatever its image, can checkpoint and
# exit 143 (retried) before the reclaim 2 minutes later. ECS Spot draining only
# stops new placements; standalone tasks (Batch jobs) run until the instance dies.
#  https://docs.aws.amazon.com/AmazonECS/latest/developerguide/container-instance-draining.html
#  https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/spot-instance-termination-notices.html
# `docker kill --signal`, not `docker stop` (it SIGKILLs after its own timeout).
# A systemd unit (Restart=always) logging to the journal. IMDS or Docker errors
# are logged once and retried; the IDs signalled are kept in a file, so a restart
# never signals a container twice.
set -u

imds=${AWS_EC2_METADATA_SERVICE_ENDPOINT:-http://169.254.169.254}
imds=${imds%/}
poll=${CFGEN_IMDS_INTERVAL_SECONDS:-5}
done_file=${CFGEN_SPOT_STATE_FILE:-/run/cfgen-spot-notice-watcher.signalled}
task_label=com.amazonaws.ecs.task-arn
name_label=com.amazonaws.ecs.container-name
token="" token_at=0 last_error="" notice=""
sent=" $(tr '\n' ' ' 2>/dev/null <"$done_file")"

log() { printf 'cfgen-spot-notice-watcher: %s\n' "$*"; }
# error MSG: log MSG unless it is the last error logged (no line every poll).
error() {
    [[ "$1" == "$last_error" ]] || log "$1"
    last_error=$1
}

[[ "$poll" =~ ^[0-9]+([.][0-9]+)?$ ]] || {
    log "CFGEN_IMDS_INTERVAL_SECONDS='$poll' is not a number of seconds: using 5"
    poll=5
}

# check_notice: 0 and $notice set if IMDSv2 has a spot/instance-action (404: none).
check_notice() {
    local now out code
    printf -v now '%(%s)T' -1
    if [[ -z "$token" ]] || ((now - token_at > 240)); then
        if ! token=$(curl -sf --max-time 2 -X PUT "$imds/latest/api/token" \
            -H 'X-aws-ec2-metadata-token-ttl-seconds: 300'); then
            token=""
            error "no IMDSv2 token from $imds: retrying every ${poll}s"
            return 1
        fi
        token_at=$now
    fi
    if ! out=$(curl -s --max-time 2 -w '\n%{http_code}' -H "X-aws-ec2-metadata-token: $token" \
        "$imds/latest/meta-data/spot/instance-action"); then
        error "IMDS $imds unreachable: retrying every ${poll}s"
        return 1
    fi
    code=${out##*$'\n'}
    case "$code" in
    200)
        notice=${out%$'\n'*}
        return 0
        ;;
    404) last_error="" ;;
    401) token="" ;;
    *) error "IMDS answered HTTP $code for spot/instance-action" ;;
    esac
    return 1
}

# signal_tasks: SIGTERM every running ECS task container not signalled yet. The
# agent (ecs-agent) has no task label; the pause container of awsvpc tasks and
# other agent-managed ones are named ~internal~ecs~...
signal_tasks() {
    local listing id name task cname
    if ! listing=$(docker ps --no-trunc --filter "label=$task_label" \
        --format "{{.ID}} {{.Names}} {{.Label \"$task_label\"}} {{.Label \"$name_label\"}}"); then
        error "docker ps failed: retrying every ${poll}s"
        return
    fi
    while read -r id name task cname; do
        [[ -n "$id" && "$name" != ecs-agent && "$cname" != "~internal~ecs"* ]] || continue
        [[ "$sent" == *" $id "* ]] && continue
        if docker kill --signal SIGTERM "$id" >/dev/null; then
            sent+="$id "
            printf '%s\n' "$id" >>"$done_file" || error "cannot write $done_file"
            log "SIGTERM sent to container $name ($cname) of task $task"
        else
            error "docker kill --signal SIGTERM $name failed: retrying"
        fi
    done <<<"$listing"
}

log "watching $imds/latest/meta-data/spot/instance-action every ${poll}s"
noticed=0
while :; do
    if ((noticed == 0)) && check_notice; then
        case "$notice" in
        *'"hibernate"'*) error "Spot notice to hibernate: nothing to do ($notice)" ;;
        *)
            noticed=1
            log "Spot interruption notice: $notice; signalling ECS task containers"
            ;;
        esac
    fi
    # After the notice, keep looking: a task placed just before it may start later.
    ((noticed)) && signal_tasks
    sleep "$poll"
done
