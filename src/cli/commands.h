/* Entry points of the command groups, dispatched by main.c. Each returns the
 * process exit code; argv[0] is the command's name. */
#ifndef MDT_CLI_COMMANDS_H
#define MDT_CLI_COMMANDS_H

#include "app/env.h"

int mdt_cli_init(mdt_env *env, int argc, char **argv);
int mdt_cli_serve(mdt_env *env, int argc, char **argv);
int mdt_cli_config_reference(mdt_env *env, int argc, char **argv);
/* SIGHUP in serve: re-reads the configuration file and applies what can
 * change at run time (cli/reload.c); logs what it did or why it did not. */
void mdt_cli_reload(mdt_env *env);
int mdt_cli_keys(mdt_env *env, int argc, char **argv);
int mdt_cli_audit(mdt_env *env, int argc, char **argv);
int mdt_cli_db(mdt_env *env, int argc, char **argv);
void mdt_cli_block_signals(void);

#endif
