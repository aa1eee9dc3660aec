# bash completion for bluegreen(1). Installed by `meson install` as
# share/bash-completion/completions/bluegreen; or source it from ~/.bashrc.
#
# Completes the commands, their options, site names (CONFIG_DIR/sites/*.conf,
# CONFIG_DIR found as bluegreen finds it: -c, $BLUEGREEN_CONFIG, the current
# directory when it holds global.conf, /etc/bluegreen) and, after `apply`,
# the token of the last plan still pending: the newest "plan" entry of
# `bluegreen history --json` whose result is "pending" and that no later
# "apply" used (one read of the journal, a few milliseconds).
# test/release/t-completion.sh runs it for real.

_bluegreen_config_dir()
{
	local i
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		-c | --config)
			printf '%s\n' "${COMP_WORDS[i + 1]}"
			return
			;;
		--config=*)
			printf '%s\n' "${COMP_WORDS[i]#--config=}"
			return
			;;
		esac
	done
	if [[ -n ${BLUEGREEN_CONFIG-} ]]; then
		printf '%s\n' "$BLUEGREEN_CONFIG"
	elif [[ -f global.conf ]]; then
		printf '.\n'
	else
		printf '/etc/bluegreen\n'
	fi
}

_bluegreen_sites()
{
	local dir f sites=()
	dir=$(_bluegreen_config_dir)
	for f in "$dir"/sites/*.conf; do
		[[ -f $f ]] || continue
		f=${f##*/}
		sites+=("${f%.conf}")
	done
	printf '%s\n' "${sites[@]}"
}

# The token of the newest pending plan in the journal, if any.
_bluegreen_pending_token()
{
	local dir line action token result pending=
	local -A applied=()
	local -a lines=()
	dir=$(_bluegreen_config_dir)
	mapfile -t lines < <("${COMP_WORDS[0]}" -c "$dir" history --json --limit 50 2>/dev/null)
	for ((i = ${#lines[@]} - 1; i >= 0; i--)); do
		line=${lines[i]}
		action= token= result=
		[[ $line =~ \"action\":\"([^\"]*)\" ]] && action=${BASH_REMATCH[1]}
		[[ $line =~ \"token\":\"([0-9a-f]+)\" ]] && token=${BASH_REMATCH[1]}
		[[ $line =~ \"result\":\"([^\"]*)\" ]] && result=${BASH_REMATCH[1]}
		[[ -n $token ]] || continue
		if [[ $action == apply ]]; then
			applied[$token]=1
		elif [[ $action == plan && $result == pending && -z ${applied[$token]-} ]]; then
			pending=$token
			break
		fi
	done
	[[ -n $pending ]] && printf '%s\n' "$pending"
}

_bluegreen()
{
	local cur prev cmd i words
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD - 1]}
	local commands="apply help history log observe plan rollback status validate watch"
	local global_opts="-c --config --json --trace= -h --help --version"

	# The command: the first word that is neither an option nor -c's value.
	cmd=
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		-c | --config) ((i++)) ;;
		-*) ;;
		*)
			cmd=${COMP_WORDS[i]}
			break
			;;
		esac
	done

	case $prev in
	-c | --config)
		mapfile -t COMPREPLY < <(compgen -d -- "$cur")
		return
		;;
	--observed)
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		return
		;;
	--retry)
		mapfile -t COMPREPLY < <(compgen -W "$(_bluegreen_sites)" -- "$cur")
		return
		;;
	--confirm | --wait | --limit | -n | --lines | --debounce)
		COMPREPLY=()
		return
		;;
	esac

	if [[ -z $cmd ]]; then
		if [[ $cur == --trace=* ]]; then
			local a="dk plan apply hist edge loop cfg all"
			mapfile -t COMPREPLY < <(compgen -P --trace= -W "$a" -- "${cur#--trace=}")
		elif [[ $cur == -* ]]; then
			mapfile -t COMPREPLY < <(compgen -W "$global_opts" -- "$cur")
		else
			mapfile -t COMPREPLY < <(compgen -W "$commands" -- "$cur")
		fi
		return
	fi

	local opts= words=
	case $cmd in
	apply)
		opts="--confirm --wait --json --help"
		words=$(_bluegreen_pending_token)
		;;
	history)
		opts="--limit --json --help"
		words=$(_bluegreen_sites)
		;;
	log) opts="-f --follow -n --lines --json --help" ;;
	observe) opts="--json --help" ;;
	plan)
		opts="--observed --retry --json --help"
		words=$(_bluegreen_sites)
		;;
	rollback)
		opts="-y --yes --json --help"
		words=$(_bluegreen_sites)
		;;
	status)
		opts="--json --help"
		words=$(_bluegreen_sites)
		;;
	validate) opts="--explain --json --help" ;;
	watch) opts="--debounce --help" ;;
	help) words=$commands ;;
	esac
	if [[ $cur == -* ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$opts" -- "$cur")
	else
		mapfile -t COMPREPLY < <(compgen -W "$words" -- "$cur")
	fi
}

complete -F _bluegreen bluegreen
