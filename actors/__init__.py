"""The pykka actors: the imperative shells that run bots on threads and mailboxes.

* ``supervisor``: one actor that starts, stops, restarts and reloads the fleet's bot actors;
* ``actor_shell``: what every bot actor shares, paper or live (setup, run state, recording a decision, operator
  commands, start and failure reports);
* ``bot_actor``: a paper bot on a replayed market (``BotActor``);
* ``live_actor``: a live or monitor bot on Drift (``LiveBotActor``).

An actor only routes: market events, venue reports and operator commands go to the bot's driver
(``botrunner.bot.driver``); what comes back goes to the venue, the store writer and the logs. Nothing below this
package imports pykka; the composition root (``botrunner.runner``) spawns the supervisor.
"""
