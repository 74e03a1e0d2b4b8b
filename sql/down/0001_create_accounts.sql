DROP TABLE profiles;
DROP TABLE accounts;
DROP TABLE plans;
