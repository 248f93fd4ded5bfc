-- A message's token counts were estimated from what was relayed: the upstream never counted
-- them (a stop, a hang-up, an upstream error or the time limit cut the answer first).
-- depends: 0004.chat

ALTER TABLE messages ADD COLUMN usage_estimated boolean NOT NULL DEFAULT false;
