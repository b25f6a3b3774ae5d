/* coalmon user: accounts of the dashboard and API (web/web.h, users section). */
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli/cli.h"
#include "web/web.h"

static void user_usage(FILE *out)
{
    fprintf(out,
            "usage: coalmon user list [--json]\n"
            "       coalmon user add NAME --role ROLE\n"
            "       coalmon user passwd NAME\n"
            "       coalmon user role NAME ROLE\n"
            "       coalmon user disable NAME | enable NAME\n"
            "Roles: viewer, dispatcher (acknowledges alarms), engineer (changes parameters),\n"
            "admin (manages users). Passwords are read from the terminal without echo, or as\n"
            "one line from standard input when it is not a terminal; never from the command\n"
            "line, where other users could see them in the process list.\n");
}

/* One line from stdin; on a terminal, asked twice without echo. */
static int read_password(char *out, size_t len)
{
    bool tty = isatty(STDIN_FILENO);
    struct termios old, quiet;
    char again[160];
    for (int round = 0; round < (tty ? 2 : 1); round++) {
        char *buf = round ? again : out;
        size_t blen = round ? sizeof again : len;
        if (tty) {
            fputs(round ? "Repeat the password: " : "New password: ", stderr);
            tcgetattr(STDIN_FILENO, &old);
            quiet = old;
            quiet.c_lflag &= ~(tcflag_t)ECHO;
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
        }
        char *ok = fgets(buf, (int)blen, stdin);
        if (tty) {
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
            fputc('\n', stderr);
        }
        if (!ok)
            return cli_error(CLI_FAIL, "password: nothing read from standard input");
        buf[strcspn(buf, "\r\n")] = '\0';
    }
    if (tty && strcmp(out, again) != 0)
        return cli_error(CLI_FAIL, "password: the two entries differ");
    return CLI_OK;
}

static int user_list(cli_ctx_t *ctx)
{
    store_t *st = cli_store(ctx);
    if (!st)
        return CLI_FAIL;
    char err[256];
    sqlite3 *db = store_reader_open(st, err, sizeof err);
    cJSON *arr = db ? web_user_list(db, err, sizeof err) : NULL;
    store_reader_close(db);
    if (!arr)
        return cli_error(CLI_FAIL, "%s", err);
    if (ctx->json) {
        cli_print_json(arr);
        return CLI_OK;
    }
    printf("%-20s %-11s %-9s %s\n", "NAME", "ROLE", "STATE", "LAST LOGIN");
    cJSON *u;
    cJSON_ArrayForEach(u, arr)
    {
        cJSON *last = cJSON_GetObjectItem(u, "last_login");
        printf("%-20s %-11s %-9s %.19s\n", cJSON_GetObjectItem(u, "name")->valuestring,
               cJSON_GetObjectItem(u, "role")->valuestring,
               cJSON_IsTrue(cJSON_GetObjectItem(u, "disabled")) ? "disabled" : "active",
               cJSON_IsString(last) ? last->valuestring : "-");
    }
    cJSON_Delete(arr);
    return CLI_OK;
}

static int user_change(cli_ctx_t *ctx, const char *action, int argc, char **argv)
{
    const char *name = argv[2];
    char pw[160] = "", err[256];
    web_role r;
    const char *role = NULL;
    if (!strcmp(action, "add")) {
        role = cli_opt(argc, argv, "--role");
        if (!role || web_role_parse(role, &r))
            return cli_error(CLI_USAGE, "--role: expected viewer, dispatcher, engineer or admin");
    } else if (!strcmp(action, "role")) {
        role = argc > 3 ? argv[3] : NULL;
        if (!role || web_role_parse(role, &r))
            return cli_error(CLI_USAGE, "ROLE: expected viewer, dispatcher, engineer or admin");
    }
    if ((!strcmp(action, "add") || !strcmp(action, "passwd")) && read_password(pw, sizeof pw))
        return CLI_FAIL;
    store_t *st = cli_store(ctx);
    if (!st)
        return CLI_FAIL;
    /* The configuration's http.pbkdf2_iterations when one was read (no --db). */
    web_auth_opts_t ao;
    web_auth_opts_default(&ao);
    cfg_sec_t root = ctx->cfg ? cfg_root(ctx->cfg) : (cfg_sec_t){0};
    if (ctx->cfg && web_auth_opts_from_cfg(&root, &ao, err, sizeof err))
        return cli_error(CLI_FAIL, "%s", err);
    int rc;
    if (!strcmp(action, "add"))
        rc = web_user_add(st, name, role, pw, ao.pbkdf2_iterations, ctx->actor, "cli", err,
                          sizeof err);
    else if (!strcmp(action, "passwd"))
        rc = web_user_passwd(st, name, pw, ao.pbkdf2_iterations, ctx->actor, "cli", err,
                             sizeof err);
    else if (!strcmp(action, "role"))
        rc = web_user_set_role(st, name, role, ctx->actor, "cli", err, sizeof err);
    else
        rc = web_user_set_disabled(st, name, !strcmp(action, "disable"), ctx->actor, "cli", err,
                                   sizeof err);
    memset(pw, 0, sizeof pw);
    if (rc)
        return cli_error(CLI_FAIL, "%s", err);
    fprintf(stderr, "coalmon: user %s: %s done\n", name, action);
    return CLI_OK;
}

int cmd_user(cli_ctx_t *ctx, int argc, char **argv)
{
    const char *action = argc > 1 ? argv[1] : "";
    if (!strcmp(action, "--help") || !strcmp(action, "-h")) {
        user_usage(stdout);
        return CLI_OK;
    }
    if (!strcmp(action, "list"))
        return user_list(ctx);
    static const char *const changes[] = {"add", "passwd", "role", "disable", "enable"};
    for (size_t i = 0; i < sizeof changes / sizeof *changes; i++)
        if (!strcmp(action, changes[i])) {
            if (argc < 3 || argv[2][0] == '-') {
                user_usage(stderr);
                return cli_error(CLI_USAGE, "user %s: NAME missing", action);
            }
            return user_change(ctx, action, argc, argv);
        }
    user_usage(stderr);
    return cli_error(CLI_USAGE, "user: unknown action '%s'", action);
}
